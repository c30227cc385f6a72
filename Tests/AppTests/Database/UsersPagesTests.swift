import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import PostgresNIO
import Testing

import HummingbirdMultiRegion
import MultiRegion
import MultiRegionTesting

@testable import App

extension DatabaseTests {
    @Suite("Users pages against the real primary and replica", .serialized)
    struct UsersPagesTests {
        let cluster: TestCluster

        init() async throws {
            cluster = try TestCluster()
            try await cluster.resetUsers()
        }

        @Test("A user can be created, shown, edited and deleted through the pages")
        func crud() async throws {
            try await cluster.withApp { client, _ in
                var jar = CookieJar()
                let new = try await client.get("/users/new", jar: &jar)
                #expect(new.status == .ok)
                #expect(new.text.contains("name=\"name\""))

                let id = try await client.createUser(name: "Ada <Lovelace>", age: 36, jar: &jar)
                let shown = try await client.get("/users/\(id)", jar: &jar)
                #expect(shown.status == .ok)
                #expect(shown.text.contains("User created."))
                #expect(shown.text.contains("Ada &lt;Lovelace&gt;"))
                #expect(!shown.text.contains("Ada <Lovelace>"))
                // The flash is shown once.
                let again = try await client.get("/users/\(id)", jar: &jar)
                #expect(!again.text.contains("User created."))

                let edit = try await client.get("/users/\(id)/edit", jar: &jar)
                #expect(edit.text.contains("value=\"36\""))

                let update = try await client.execute(
                    uri: "/users/\(id)", method: .post, headers: formHeaders(jar.headers), body: formBody([("name", "Ada King"), ("age", "37")])
                )
                #expect(update.status == .seeOther)
                #expect(update.location == "/users/\(id)")
                jar.update(from: update)
                let updated = try await client.get("/users/\(id)", jar: &jar)
                #expect(updated.text.contains("User updated."))
                #expect(updated.text.contains("Ada King"))
                #expect(updated.text.contains("data-field=\"age\">37</dd>"))

                let delete = try await client.execute(uri: "/users/\(id)/delete", method: .post, headers: formHeaders(jar.headers))
                #expect(delete.status == .seeOther)
                #expect(delete.location == "/users")
                jar.update(from: delete)
                let list = try await client.get("/users", jar: &jar)
                #expect(list.text.contains("User deleted."))
                let gone = try await client.get("/users/\(id)", jar: &jar)
                #expect(gone.status == .notFound)
            }
        }

        @Test("PUT, PATCH, DELETE and _method work for clients that send them")
        func otherMethods() async throws {
            try await cluster.withApp { client, _ in
                var jar = CookieJar()
                let id = try await client.createUser(name: "Grace", age: 40, jar: &jar)
                let put = try await client.execute(uri: "/users/\(id)", method: .put, headers: formHeaders(), body: formBody([("name", "Grace H"), ("age", "41")]))
                #expect(put.status == .seeOther)
                let patch = try await client.execute(
                    uri: "/users/\(id)", method: .post, headers: formHeaders(), body: formBody([("_method", "PATCH"), ("name", "Grace Hopper"), ("age", "42")])
                )
                #expect(patch.status == .seeOther)
                try await cluster.withClient(.primary) { primary in
                    let rows = try await primary.query("SELECT name, age FROM users WHERE id = \(id)").decode((String, Int32).self)
                    for try await (name, age) in rows {
                        #expect(name == "Grace Hopper")
                        #expect(age == 42)
                    }
                }
                let delete = try await client.execute(uri: "/users/\(id)", method: .post, headers: formHeaders(), body: formBody([("_method", "DELETE")]))
                #expect(delete.status == .seeOther)
                #expect(try await client.execute(uri: "/users/\(id)", method: .delete).status == .notFound)
            }
        }

        @Test("Invalid input re-renders the form with 422, the input kept and a message per field")
        func validationErrors() async throws {
            try await cluster.withApp { client, _ in
                let response = try await client.execute(
                    uri: "/users", method: .post, headers: formHeaders(), body: formBody([("name", "  \"Bob\" <b>"), ("age", "200")])
                )
                #expect(response.status == .unprocessableContent)
                #expect(response.text.contains("value=\"  &quot;Bob&quot; &lt;b&gt;\""))
                #expect(response.text.contains("Age must be between 0 and 150"))
                #expect(response.text.contains("value=\"200\""))
                let blank = try await client.execute(uri: "/users", method: .post, headers: formHeaders(), body: formBody([]))
                #expect(blank.status == .unprocessableContent)
                #expect(blank.text.contains("Name can&#39;t be blank"))
                try await cluster.withClient(.primary) { primary in
                    let count = try await primary.query("SELECT count(*) FROM users").decode(Int64.self).reduce(0, +)
                    #expect(count == 0)
                }
            }
        }

        @Test("Unknown and malformed ids give a 404 page with the badge", arguments: [
            "/users/999999", "/users/abc", "/users/-1", "/users/99999999999999999999", "/users/1/edit", "/nowhere",
        ])
        func notFound(uri: String) async throws {
            try await cluster.withApp { client, _ in
                let response = try await client.execute(uri: uri, method: .get)
                #expect(response.status == .notFound)
                #expect(response.text.contains("Not found"))
                #expect(response.badgeDatabase != nil)
                #expect(response.headers[HTTPField.Name("Served-Region")!] == "nrt")
            }
        }

        @Test("A malformed form body is a 400 page, and a body over 1 MB a 413 page")
        func badBodies() async throws {
            try await cluster.withApp { client, _ in
                let tooLarge = try await client.execute(
                    uri: "/users", method: .post, headers: formHeaders(), body: ByteBuffer(string: "name=" + String(repeating: "a", count: 1_100_000))
                )
                #expect(tooLarge.status == .contentTooLarge)
                #expect(tooLarge.text.contains("larger than 1 MB"))
            }
        }

        @Test("An unexpected error is a plain 500 page that shows no internals")
        func unexpectedError() async throws {
            struct InternalFailure: Error, CustomStringConvertible {
                var description: String { "connection to db-internal.example:5432 failed with password hunter2" }
            }
            try await cluster.withApp(addPages: { pages, _ in
                pages.get("/broken") { _, _ -> String in throw InternalFailure() }
            }) { client, _ in
                let response = try await client.execute(uri: "/broken", method: .get)
                #expect(response.status == .internalServerError)
                #expect(response.text.contains("Something went wrong"))
                #expect(!response.text.contains("hunter2"))
                #expect(!response.text.contains("db-internal"))
                #expect(response.badgeDatabase != nil)
            }
        }

        @Test("A form posted from another site is refused with 403 and nothing is written")
    func crossSiteForm() async throws {
        try await cluster.withApp { client, _ in
            var headers = formHeaders()
            headers[HTTPField.Name("sec-fetch-site")!] = "cross-site"
            let response = try await client.execute(uri: "/users", method: .post, headers: headers, body: formBody([("name", "Mallory"), ("age", "30")]))
            #expect(response.status == .forbidden)
            #expect(response.text.contains("sent from another site"))
            headers[HTTPField.Name("sec-fetch-site")!] = "same-origin"
            let allowed = try await client.execute(uri: "/users", method: .post, headers: headers, body: formBody([("name", "Alice"), ("age", "30")]))
            #expect(allowed.status == .seeOther)
        }
    }

    @Test("A CHECK constraint the form rules missed becomes a field message, not an error page")
    func constraintViolation() {
        #expect(PostgresAccounts.validationErrors(constraint: "users_age_range")["age"] == "must be between 0 and 150")
        #expect(PostgresAccounts.validationErrors(constraint: "users_name_length")["name"] == "is not valid")
    }

    @Test("List pages are stable: every user appears exactly once across the pages")
        func stablePages() async throws {
            try await cluster.withClient(.primary) { primary in
                try await primary.run("INSERT INTO users (name, age) SELECT 'user ' || n, n % 100 FROM generate_series(1, 45) AS n")
            }
            try await cluster.waitForReplicaToCatchUp()
            try await cluster.withApp { client, _ in
                var jar = CookieJar()
                var seen: [String] = []
                var uri = "/users"
                var pages = 0
                while true {
                    let page = try await client.get(uri, jar: &jar)
                    #expect(page.status == .ok)
                    seen += page.text.matches(of: /<td><a href="\/users\/\d+"[^>]*>(user \d+)<\/a><\/td>/).map { String($0.output.1) }
                    pages += 1
                    guard let next = page.text.firstMatch(of: /rel="next" href="(\/users\?after=\d+)"/) else { break }
                    uri = String(next.output.1)
                }
                #expect(pages == 3)
                #expect(seen.count == 45)
                #expect(Set(seen).count == 45)
                #expect(seen.first == "user 45")
                // And back: the previous link of the last page shows the middle page again.
                let last = try await client.get(uri, jar: &jar)
                let previous = try #require(last.text.firstMatch(of: /rel="prev" href="(\/users\?before=\d+)"/))
                let middle = try await client.get(String(previous.output.1), jar: &jar)
                let middleNames = middle.text.matches(of: /<td><a href="\/users\/\d+"[^>]*>(user \d+)<\/a><\/td>/).map { String($0.output.1) }
                #expect(middleNames == Array(seen[20..<40]))
            }
        }

        @Test("Reads are served by the replica and say so; writes land on the primary")
        func readsFromReplica() async throws {
            try await cluster.withApp { client, _ in
                var jar = CookieJar()
                let list = try await client.get("/users", jar: &jar)
                #expect(list.badgeDatabase == "replica")
                #expect(list.badgeAttribute("data-region") == "nrt")
                #expect(list.badgeAttribute("data-primary-region") == "nrt")
                let id = try await client.createUser(name: "Replicated", age: 20, jar: &jar)
                try await cluster.withClient(.primary) { primary in
                    let count = try await primary.query("SELECT count(*) FROM users WHERE id = \(id)").decode(Int64.self).reduce(0, +)
                    #expect(count == 1)
                }
                let shown = try await client.get("/users/\(id)", jar: &jar)
                #expect(shown.status == .ok)
                #expect(shown.badgeDatabase == "replica")
            }
        }

        @Test("Without a replica, the badge says the primary served the reads")
        func primaryOnly() async throws {
            try await cluster.withApp(useReplica: false) { client, _ in
                var jar = CookieJar()
                let list = try await client.get("/users", jar: &jar)
                #expect(list.badgeDatabase == "primary")
            }
        }

        @Test("The badge tells the truth when the 'replica' URL points at the primary")
        func misconfiguredReplica() async throws {
            try await cluster.withApp(extra: ["REPLICA_DATABASE_URL": cluster.primaryURL]) { client, _ in
                var jar = CookieJar()
                let list = try await client.get("/users", jar: &jar)
                #expect(list.badgeDatabase == "primary")
            }
        }

        @Test("A write sent over the replica connection fails with SQLSTATE 25006")
        func replicaRefusesWrites() async throws {
            try await cluster.withClient(.replica) { replica in
                do {
                    try await replica.run("INSERT INTO users (name, age) VALUES ('x', 1)")
                    Issue.record("the replica accepted a write")
                } catch {
                    #expect(PostgresErrors.sqlState(of: error) == "25006")
                    #expect(PostgresErrors.isReadOnlyViolation(error))
                }
                do {
                    try await replica.withTransaction(logger: .init(label: "test")) { connection in
                        try await connection.run("UPDATE users SET age = 1")
                    }
                    Issue.record("the replica accepted a write in a transaction")
                } catch {
                    #expect(PostgresErrors.isReadOnlyViolation(error))
                }
            }
        }

        @Test("Health and readiness answer, with Served-Region on every response")
        func health() async throws {
            try await cluster.withApp { client, _ in
                let health = try await client.execute(uri: "/healthz", method: .get)
                #expect(health.status == .ok)
                #expect(health.headers[HTTPField.Name("Served-Region")!] == "nrt")
                #expect(try await client.execute(uri: "/readyz", method: .get).status == .ok)
                let css = try await client.execute(uri: "/assets/app.css", method: .get)
                #expect(css.status == .ok)
                let root = try await client.execute(uri: "/", method: .get)
                #expect(root.location == "/users")
            }
        }
    }
}
