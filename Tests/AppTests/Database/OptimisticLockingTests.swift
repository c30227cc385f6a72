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
    @Suite("Edits that cannot overwrite newer data, against the real primary and replica", .serialized, .timeLimit(.minutes(2)))
    struct OptimisticLockingTests {
        let cluster: TestCluster

        init() async throws {
            cluster = try TestCluster()
            try await cluster.resetUsers()
        }

        /// The user as the primary has it: name, age, version.
        private func saved(_ id: Int64) async throws -> (String, Int, Int)? {
            try await cluster.withClient(.primary) { client in
                for try await (name, age, version) in try await client.query(
                    "SELECT name, age, lock_version FROM users WHERE id = \(id)"
                ).decode((String, Int32, Int32).self) {
                    return (name, Int(age), Int(version))
                }
                return nil
            }
        }

        /// The value of a hidden `lock_version` field in a page's first form that has one.
        private func formVersion(_ page: TestResponse) -> String? {
            guard let field = page.text.range(of: "name=\"lock_version\" value=\"") else { return nil }
            let rest = page.text[field.upperBound...]
            return rest.firstIndex(of: "\"").map { String(rest[..<$0]) }
        }

        private func update(_ client: some TestClientProtocol, _ id: Int64, _ fields: [(String, String)], headers: HTTPFields = [:]) async throws -> TestResponse {
            try await client.execute(uri: "/users/\(id)", method: .post, headers: formHeaders(headers), body: formBody(fields))
        }

        @Test("An edit form read from a paused replica carries the old version; saving it gets the 409 page with both versions, overwrites nothing, and re-applying works")
        func staleFormFromPausedReplica() async throws {
            try await cluster.withApp(region: "ord", primaryRegion: "nrt", writeMode: .direct) { client, _ in
                var alice = CookieJar()
                let id = try await client.createUser(name: "Original", age: 30, jar: &alice)
                try await cluster.waitForReplicaToCatchUp()
                try await cluster.setReplayPaused(true)
                do {
                    // Alice saves a change; the paused replica does not have it.
                    let first = try await update(client, id, [("name", "Alice's edit"), ("age", "31"), ("lock_version", "1")])
                    #expect(first.status == .seeOther)
                    // Bob, with no cookie of his own, opens the edit form from the lagging replica.
                    var bob = CookieJar()
                    let form = try await client.get("/users/\(id)/edit", jar: &bob)
                    #expect(form.badgeDatabase == "replica")
                    #expect(form.text.contains("value=\"Original\""))
                    #expect(formVersion(form) == "1")

                    let stale = try await update(client, id, [("name", "Bob's edit"), ("age", "40"), ("lock_version", "1")])
                    #expect(stale.status == .conflict)
                    #expect(stale.text.contains("Someone else changed this user"))
                    #expect(stale.text.contains("Alice&#39;s edit") || stale.text.contains("Alice&#x27;s edit"), "the saved values")
                    #expect(stale.text.contains("value=\"Bob&#39;s edit\"") || stale.text.contains("value=\"Bob&#x27;s edit\""), "the person's input")
                    #expect(formVersion(stale) == "2", "the re-apply form is based on the current version")
                    #expect(stale.badgeDatabase == "primary", "the current values come from the primary")
                    #expect(try await saved(id)! == ("Alice's edit", 31, 2), "nothing overwritten")

                    let reapplied = try await update(client, id, [("name", "Bob's edit"), ("age", "40"), ("lock_version", "2")])
                    #expect(reapplied.status == .seeOther)
                    #expect(try await saved(id)! == ("Bob's edit", 40, 3))
                } catch {
                    try? await cluster.setReplayPaused(false)
                    throw error
                }
                try await cluster.setReplayPaused(false)
            }
        }

        @Test("A delete based on an old version gets the 409 page and deletes nothing; the current version deletes")
        func staleDelete() async throws {
            try await cluster.withApp { client, _ in
                var jar = CookieJar()
                let id = try await client.createUser(name: "Keep me", age: 5, jar: &jar)
                _ = try await update(client, id, [("name", "Changed"), ("age", "6"), ("lock_version", "1")])
                let stale = try await client.execute(
                    uri: "/users/\(id)/delete", method: .post, headers: formHeaders(), body: formBody([("lock_version", "1")])
                )
                #expect(stale.status == .conflict)
                #expect(stale.text.contains("not deleted"))
                #expect(formVersion(stale) == "2", "the 'delete anyway' form names the current version")
                #expect(try await saved(id) != nil)
                let current = try await client.execute(
                    uri: "/users/\(id)/delete", method: .post, headers: formHeaders(), body: formBody([("lock_version", "2")])
                )
                #expect(current.status == .seeOther)
                #expect(try await saved(id) == nil)
            }
        }

        @Test("API clients: without a version the last write wins; If-Match with the ETag from GET applies only to that version (412 otherwise)")
        func ifMatch() async throws {
            try await cluster.withApp { client, _ in
                var jar = CookieJar()
                let id = try await client.createUser(name: "Api", age: 1, jar: &jar)
                let page = try await client.execute(uri: "/users/\(id)", method: .get)
                #expect(page.headers[.eTag] == "\"1\"")

                let blind = try await client.execute(uri: "/users/\(id)", method: .put, headers: formHeaders(), body: formBody([("name", "Blind"), ("age", "2")]))
                #expect(blind.status == .seeOther, "no version: last write wins")
                #expect(try await saved(id)! == ("Blind", 2, 2))

                let stale = try await client.execute(
                    uri: "/users/\(id)", method: .patch, headers: formHeaders([.ifMatch: "\"1\""]), body: formBody([("name", "Stale"), ("age", "3")])
                )
                #expect(stale.status == .preconditionFailed)
                #expect(stale.text.contains("Someone else changed this user"))
                for weak in ["W/\"2\"", "\"abc\""] {
                    let response = try await client.execute(
                        uri: "/users/\(id)", method: .put, headers: formHeaders([.ifMatch: weak]), body: formBody([("name", "Weak"), ("age", "3")])
                    )
                    #expect(response.status == .preconditionFailed, "\(weak)")
                }
                #expect(try await saved(id)! == ("Blind", 2, 2))

                let current = try await client.execute(
                    uri: "/users/\(id)", method: .put, headers: formHeaders([.ifMatch: "\"9\", \"2\""]), body: formBody([("name", "Matched"), ("age", "4")])
                )
                #expect(current.status == .seeOther)
                let any = try await client.execute(
                    uri: "/users/\(id)", method: .put, headers: formHeaders([.ifMatch: "*"]), body: formBody([("name", "Any"), ("age", "5")])
                )
                #expect(any.status == .seeOther)
                #expect(try await saved(id)! == ("Any", 5, 4))

                let deleteStale = try await client.execute(uri: "/users/\(id)", method: .delete, headers: [.ifMatch: "\"1\""])
                #expect(deleteStale.status == .preconditionFailed)
                let deleteBlind = try await client.execute(uri: "/users/\(id)", method: .delete)
                #expect(deleteBlind.status == .seeOther)
                let gone = try await client.execute(uri: "/users/\(id)", method: .put, headers: formHeaders([.ifMatch: "\"4\""]), body: formBody([("name", "X"), ("age", "1")]))
                #expect(gone.status == .notFound)
            }
        }
    }
}
