#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The users pages: list, show, new, edit, and the form the last two share.
enum UserViews {
    /// The list; with `live`, the first page, which `Public/live.js` keeps up to date (rows
    /// carry their user's id and fields, and a template row shows it how to add one).
    static func index(_ page: UserPage, live: LivePage? = nil) -> HTML {
        let rows = page.users.map { row($0) }
        let table: HTML = page.users.isEmpty
            ? "<p class=\"empty\">No users yet. Create the first one.</p>"
            : """
            <table class="users">
              <thead><tr><th class="numeric">ID</th><th>Name</th><th class="numeric">Age</th><th><span class="visually-hidden">Actions</span></th></tr></thead>
              <tbody>\(rows)</tbody>
            </table>
            """
        let liveParts: HTML = live.map { live in
            """
            <p class="live-note" data-live-note hidden aria-live="polite"></p>
            <template data-live-row>\(row(nil))</template>
            """
        } ?? ""
        let newer: HTML = page.newerThanCursor.map { "<a rel=\"prev\" href=\"/users?before=\($0)\">← Newer</a>" as HTML } ?? ""
        let older: HTML = page.olderThanCursor.map { "<a rel=\"next\" href=\"/users?after=\($0)\">Older →</a>" as HTML } ?? ""
        return """
            <div class="page-heading">
              <h1>Users</h1>
              <a class="button" href="/users/new">New user</a>
            </div>
            <section class="user-list"\(live.map { " data-live-list data-page-size=\"\(PostgresAccounts.pageSize)\" \($0.attributes)" as HTML })>
              \(liveParts)
              \(table)
            </section>
            <nav class="pagination" aria-label="Pages">\(newer)\(older)</nav>
            """
    }

    /// One user; with `live`, kept up to date by `Public/live.js` (the fields carry
    /// `data-field`).
    static func show(_ user: User, live: LivePage? = nil) -> HTML {
        """
        <article class="user-details" data-user-id="\(user.id)"\(live.map { " data-live-user \($0.attributes)" as HTML })>
          <div class="page-heading">
            <h1 data-field="name">\(user.name)</h1>
            <a class="button" href="/users/\(user.id)/edit">Edit user</a>
          </div>
          \(live.map { _ in "<p class=\"live-note\" data-live-note hidden aria-live=\"polite\"></p>" as HTML })
          <dl class="details">
            <dt>Name</dt><dd data-field="name">\(user.name)</dd>
            <dt>Age</dt><dd data-field="age">\(user.age)</dd>
            <dt>Created</dt><dd><time datetime="\(timestamp(user.insertedAt))">\(readable(user.insertedAt))</time></dd>
            <dt>Updated</dt><dd><time data-field="updatedAt" datetime="\(timestamp(user.updatedAt))">\(readable(user.updatedAt))</time></dd>
          </dl>
          <div class="page-actions">
            <a href="/users">← Back to users</a>
            \(deleteButton(user, style: "button button-danger"))
          </div>
        </article>
        """
    }

    static func new(_ params: UserParams, errors: ValidationErrors) -> HTML {
        """
        <h1>New user</h1>
        \(form(action: "/users", params: params, errors: errors, submit: "Create user"))
        <p><a href="/users">← Back to users</a></p>
        """
    }

    static func edit(id: Int64, _ params: UserParams, errors: ValidationErrors) -> HTML {
        """
        <h1>Edit user</h1>
        \(form(action: "/users/\(id)", params: params, errors: errors, submit: "Save user"))
        <p><a href="/users/\(id)">← Back to user</a></p>
        """
    }

    /// A save that was based on an older version (409, or 412 for `If-Match`): what is saved
    /// now beside what the person typed, and a form that re-applies their input to the current
    /// version. Nothing was overwritten.
    static func updateConflict(current: User, yours: UserParams) -> HTML {
        var reapply = yours
        reapply.lockVersion = String(current.lockVersion)
        return """
            <h1>Someone else changed this user</h1>
            <p class="form-error" role="alert">Your changes were <strong>not saved</strong>: since you opened the form, this user was changed (now at version \(current.lockVersion)). Compare, then save yours again or keep theirs.</p>
            <div class="comparison">
              <section class="comparison-side" aria-labelledby="saved-heading">
                <h2 id="saved-heading">Saved now</h2>
                <dl class="details">
                  <dt>Name</dt><dd>\(current.name)</dd>
                  <dt>Age</dt><dd>\(current.age)</dd>
                  <dt>Updated</dt><dd><time datetime="\(timestamp(current.updatedAt))">\(readable(current.updatedAt))</time></dd>
                </dl>
                <a class="button button-secondary" href="/users/\(current.id)">Keep this version</a>
              </section>
              <section class="comparison-side comparison-yours" aria-labelledby="yours-heading">
                <h2 id="yours-heading">Your changes</h2>
                \(form(action: "/users/\(current.id)", params: reapply, errors: ValidationErrors(), submit: "Save my changes over theirs", id: "reapply"))
              </section>
            </div>
            """
    }

    /// A delete that was based on an older version: the current values, and the choice.
    static func deleteConflict(current: User) -> HTML {
        """
        <h1>Someone else changed this user</h1>
        <p class="form-error" role="alert">The user was <strong>not deleted</strong>: it was changed since you loaded the page (now at version \(current.lockVersion)). Here is what is saved now.</p>
        <dl class="details">
          <dt>Name</dt><dd>\(current.name)</dd>
          <dt>Age</dt><dd>\(current.age)</dd>
          <dt>Updated</dt><dd><time datetime="\(timestamp(current.updatedAt))">\(readable(current.updatedAt))</time></dd>
        </dl>
        <div class="page-actions">
          <a class="button button-secondary" href="/users/\(current.id)">Keep it</a>
          \(deleteButton(current, style: "button button-danger", label: "Delete it anyway"))
        </div>
        """
    }

    /// The form shared by new and edit; keeps what was typed and shows a message per field.
    static func form(action: String, params: UserParams, errors: ValidationErrors, submit: String, id: String? = nil) -> HTML {
        let summary: HTML = errors.isEmpty
            ? ""
            : "<p class=\"form-error\" role=\"alert\">Please fix the fields marked below.</p>"
        return """
            <form class="user-form" method="post" action="\(action)"\(id.map { " id=\"\($0)\"" as HTML }) novalidate>
              \(summary)
              \(params.lockVersion.map { "<input type=\"hidden\" name=\"lock_version\" value=\"\($0)\">" as HTML })
              \(field("name", label: "Name", value: params.name, error: errors["name"], attributes: "type=\"text\" maxlength=\"100\" autocomplete=\"name\" required"))
              \(field("age", label: "Age", value: params.age, error: errors["age"], attributes: "type=\"number\" inputmode=\"numeric\" min=\"0\" max=\"150\" step=\"1\" required"))
              <div class="form-actions"><button class="button" type="submit">\(submit)</button></div>
            </form>
            """
    }

    private static func field(_ name: String, label: String, value: String?, error: String?, attributes: HTML) -> HTML {
        let errorID = "\(name)-error"
        return """
            <div class="field\(error == nil ? "" : " field-invalid")">
              <label for="user-\(name)">\(label)</label>
              <input id="user-\(name)" name="\(name)" value="\(value ?? "")" \(attributes)\
            \(error.map { _ in " aria-invalid=\"true\" aria-describedby=\"\(errorID)\"" as HTML })>
              \(error.map { "<p class=\"field-error\" id=\"\(errorID)\">\(label) \($0)</p>" as HTML })
            </div>
            """
    }

    /// A row of the list; `nil` gives the template row the live script fills in (its links
    /// and fields are empty, `{id}` marks where the id goes).
    private static func row(_ user: User?) -> HTML {
        let id: HTML = user.map { "\($0.id)" } ?? "{id}"
        return """
            <tr data-user-id="\(user.map { "\($0.id)" } ?? "")">
              <td class="numeric" data-field="id">\(user.map { "\($0.id)" } ?? "")</td>
              <td><a href="/users/\(id)" data-href="/users/{id}" data-field="name">\(user?.name ?? "")</a></td>
              <td class="numeric" data-field="age">\(user.map { "\($0.age)" } ?? "")</td>
              <td class="actions">
                <a href="/users/\(id)/edit" data-href="/users/{id}/edit">Edit</a>
                \(deleteButton(id: id, lockVersion: user.map { "\($0.lockVersion)" } ?? "", style: "link-button"))
              </td>
            </tr>
            """
    }

    private static func deleteButton(_ user: User, style: String, label: String = "Delete") -> HTML {
        deleteButton(id: "\(user.id)", lockVersion: "\(user.lockVersion)", style: style, label: label)
    }

    /// The delete form, naming the version it deletes; the live script updates both.
    private static func deleteButton(id: HTML, lockVersion: HTML, style: String, label: String = "Delete") -> HTML {
        """
        <form class="inline-form" method="post" action="/users/\(id)/delete" data-action="/users/{id}/delete">
          <input type="hidden" name="lock_version" value="\(lockVersion)" data-field="lockVersion">
          <button class="\(style)" type="submit">\(label)</button>
        </form>
        """
    }

    private static func timestamp(_ date: Date) -> String {
        Timestamp.iso8601(date)
    }

    private static func readable(_ date: Date) -> String {
        Timestamp.readable(date)
    }
}
