import Hummingbird
import HummingbirdMultiRegion
import Logging
import MultiRegion

/// The users pages (Phoenix's `UserController`): thin, branching on what `Accounts` says.
///
/// Every data call runs on `context.database`, so replica reads, the fallback to the primary
/// and read-your-writes come from the multi-region middleware, not from here.
struct UsersController<Store: Accounts>: Sendable {
    typealias Context = AppRequestContext

    let accounts: Store
    let renderer: PageRenderer
    let flash: Flash
    /// The live pages' feed: a page takes its position before reading, and its stream
    /// starts there.
    let feed: ChangeFeed<UserChangeLog>

    func addRoutes(to router: RouterGroup<Context>) {
        router.get("/") { _, _ in Response.redirect(to: "/users", type: .found) }
        let users = router.group("users")
        users.get(use: index)
        users.get("new", use: new)
        users.post(use: create)
        users.get("{id}", use: show)
        users.get("{id}/edit", use: edit)
        users.post("{id}", use: update)
        users.put("{id}", use: update)
        users.patch("{id}", use: update)
        users.delete("{id}", use: delete)
        users.post("{id}/delete", use: delete)
    }

    @Sendable func index(_ request: Request, context: Context) async throws -> Response {
        let query = request.uri.queryParameters
        let pageRequest: PageRequest
        if let after = query["after"] {
            guard let id = Int64(after) else { throw HTTPError(.notFound) }
            pageRequest = .olderThan(id)
        } else if let before = query["before"] {
            guard let id = Int64(before) else { throw HTTPError(.notFound) }
            pageRequest = .newerThan(id)
        } else {
            pageRequest = .first
        }
        // Only the first page changes live (new users appear at its top).
        let live = pageRequest == .first ? LivePage(url: "/users/live", since: feed.position) : nil
        let page = try await accounts.listUsers(pageRequest, on: context.database)
        return renderer.page(title: "Users", UserViews.index(page, live: live), context: context)
    }

    @Sendable func show(_ request: Request, context: Context) async throws -> Response {
        let id = try userID(context)
        let live = LivePage(url: "/users/\(id)/live", since: feed.position)
        guard let user = try await accounts.user(id: id, on: context.database) else {
            throw HTTPError(.notFound)
        }
        var response = renderer.page(title: user.name, UserViews.show(user, live: live), context: context)
        response.headers[.eTag] = EntityTag.value(for: user.lockVersion)
        return response
    }

    @Sendable func new(_ request: Request, context: Context) async throws -> Response {
        renderer.page(title: "New user", UserViews.new(UserParams(), errors: ValidationErrors()), context: context)
    }

    @Sendable func create(_ request: Request, context: Context) async throws -> Response {
        let params = try await formParams(request, context: context)
        switch params.validated() {
        case .failure(let errors):
            return renderer.page(title: "New user", UserViews.new(params, errors: errors), status: .unprocessableContent, context: context)
        case .success(let changes):
            do {
                let user = try await accounts.createUser(changes, on: context.database)
                return redirect(to: "/users/\(user.id)", flash: "User created.")
            } catch let errors as ValidationErrors {
                return renderer.page(title: "New user", UserViews.new(params, errors: errors), status: .unprocessableContent, context: context)
            }
        }
    }

    @Sendable func edit(_ request: Request, context: Context) async throws -> Response {
        let id = try userID(context)
        guard let user = try await accounts.user(id: id, on: context.database) else {
            throw HTTPError(.notFound)
        }
        return renderer.page(title: "Edit \(user.name)", UserViews.edit(id: id, UserParams(user), errors: ValidationErrors()), context: context)
    }

    /// Saves the edit form, or a `PUT`/`PATCH`, only if nobody changed the user since the
    /// version it names (`lock_version`, or `If-Match`); otherwise shows both versions (409, or
    /// 412 for `If-Match`) and overwrites nothing. Without a version, the last write wins.
    @Sendable func update(_ request: Request, context: Context) async throws -> Response {
        let id = try userID(context)
        let params = try await formParams(request, context: context)
        switch params.validated() {
        case .failure(let errors):
            return renderer.page(title: "Edit user", UserViews.edit(id: id, params, errors: errors), status: .unprocessableContent, context: context)
        case .success(let changes):
            let condition = VersionCondition(request, params)
            do {
                switch try await accounts.updateUser(id: id, with: changes, ifVersionIn: condition.versions, on: context.database) {
                case .written:
                    return redirect(to: "/users/\(id)", flash: "User updated.")
                case .notFound:
                    throw HTTPError(.notFound)
                case .conflict(let current):
                    return renderer.page(
                        title: "Changed by someone else", UserViews.updateConflict(current: current, yours: params),
                        status: condition.conflictStatus, context: context, readRole: .primary
                    )
                }
            } catch let errors as ValidationErrors {
                return renderer.page(title: "Edit user", UserViews.edit(id: id, params, errors: errors), status: .unprocessableContent, context: context)
            }
        }
    }

    /// Deletes the user, only if nobody changed it since the version the request names.
    @Sendable func delete(_ request: Request, context: Context) async throws -> Response {
        let id = try userID(context)
        let params = try await formParams(request, context: context, allowingNoForm: true)
        let condition = VersionCondition(request, params)
        switch try await accounts.deleteUser(id: id, ifVersionIn: condition.versions, on: context.database) {
        case .written:
            return redirect(to: "/users", flash: "User deleted.")
        case .notFound:
            throw HTTPError(.notFound)
        case .conflict(let current):
            return renderer.page(
                title: "Changed by someone else", UserViews.deleteConflict(current: current),
                status: condition.conflictStatus, context: context, readRole: .primary
            )
        }
    }

    // MARK: - Helpers

    /// The `{id}` route parameter; anything that is not a positive integer is a 404.
    private func userID(_ context: Context) throws -> Int64 {
        guard let id = context.parameters.get("id", as: Int64.self), id > 0 else { throw HTTPError(.notFound) }
        return id
    }

    /// The submitted form; with `allowingNoForm`, a request without a form body (an API
    /// `DELETE`) has no fields rather than being a bad request.
    private func formParams(_ request: Request, context: Context, allowingNoForm: Bool = false) async throws -> UserParams {
        if allowingNoForm, request.headers[.contentType]?.lowercased().hasPrefix("application/x-www-form-urlencoded") != true {
            return UserParams()
        }
        do {
            return try await request.decode(as: UserParams.self, context: context)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw error
        } catch {
            throw HTTPError(.badRequest)
        }
    }

    /// 303 See Other, so the browser follows with a GET, with a flash message.
    private func redirect(to location: String, flash message: String) -> Response {
        var response = Response.redirect(to: location, type: .normal)
        response.setCookie(flash.cookie(message))
        return response
    }
}

/// The versions a write may apply to, and how a mismatch is answered: `If-Match` (an API
/// client's ETag) comes before the form's `lock_version`, and is answered 412 as HTTP says;
/// a stale form is a 409.
private struct VersionCondition {
    let versions: [Int]?
    let conflictStatus: HTTPResponse.Status

    init(_ request: Request, _ params: UserParams) {
        if let versions = EntityTag.versions(in: request) {
            self.versions = versions
            conflictStatus = .preconditionFailed
        } else if request.headers[.ifMatch] != nil {
            // `If-Match: *`: any version of a user that exists.
            versions = nil
            conflictStatus = .preconditionFailed
        } else {
            versions = params.versions
            conflictStatus = .conflict
        }
    }
}
