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
    @Suite("Read-your-writes by replication position, with replay paused on the real replica", .serialized)
    struct ReadYourWritesTests {
        let cluster: TestCluster

        init() async throws {
            cluster = try TestCluster()
            try await cluster.resetUsers()
        }

        /// Runs `body` with WAL replay paused on the replica, and always resumes it.
        private func withReplayPaused<Value: Sendable>(_ body: () async throws -> Value) async throws -> Value {
            try await cluster.setReplayPaused(true)
            do {
                let value = try await body()
                try await cluster.setReplayPaused(false)
                return value
            } catch {
                try? await cluster.setReplayPaused(false)
                throw error
            }
        }

        @Test("With replay paused, a read with the cookie waits, then falls back to the primary; after resume the replica serves it and the cookie goes")
        func waitsThenFallsBack() async throws {
            try await cluster.withApp(region: "ord", primaryRegion: "nrt", writeMode: .direct) { client, _ in
                var jar = CookieJar()
                try await withReplayPaused {
                    let id = try await client.createUser(name: "Fresh", age: 5, jar: &jar)
                    let started = ContinuousClock.now
                    let page = try await client.get("/users/\(id)", jar: &jar)
                    let elapsed = ContinuousClock.now - started
                    #expect(page.status == .ok)
                    #expect(page.text.contains("Fresh"))
                    #expect(page.badgeDatabase == "primary")
                    #expect(elapsed >= .milliseconds(900))
                    #expect(page.badgeAttribute("data-replication-wait-ms") != nil)
                    #expect(jar.cookies["wal"] != nil, "the cookie stays until the replica catches up")

                    // Without the cookie, the replica answers at once, and does not have the user yet.
                    let stranger = try await client.execute(uri: "/users/\(id)", method: .get)
                    #expect(stranger.status == .notFound)
                    #expect(stranger.badgeDatabase == "replica")
                    try await cluster.setReplayPaused(false)

                    try await cluster.waitForReplicaToCatchUp()
                    let caughtUp = try await client.get("/users/\(id)", jar: &jar)
                    #expect(caughtUp.status == .ok)
                    #expect(caughtUp.badgeDatabase == "replica")
                    #expect(caughtUp.text.contains("Fresh"))
                    #expect(caughtUp.setCookies["wal"] == "", "the cookie is cleared once the replica has the write")
                    #expect(jar.cookies["wal"] == nil)
                }
            }
        }

        @Test("In replay mode, a read whose write the replica lacks is replayed to the primary region as stale")
        func staleReadIsReplayed() async throws {
            try await cluster.withApp(region: "ord", primaryRegion: "nrt", writeMode: .direct) { writer, _ in
                var jar = CookieJar()
                try await withReplayPaused {
                    _ = try await writer.createUser(name: "Later", age: 9, jar: &jar)
                    let cookies = jar
                    try await cluster.withApp(region: "ord", primaryRegion: "nrt", writeMode: .replay) { client, _ in
                        let response = try await client.execute(uri: "/users", method: .get, headers: cookies.headers)
                        #expect(response.status == .conflict)
                        #expect(response.headers[HTTPField.Name("fly-replay")!] == "region=nrt;state=stale;timeout=6000ms;fallback=force_self")
                    }
                }
            }
        }

        @Test("A read without the cookie, or with a forged one, is served by the replica at once", arguments: [
            nil, "garbage", "MC8xNjAwMDAw.AAAA", "%00;;", String(repeating: "x", count: 3000),
        ])
        func forgedOrMissingCookie(value: String?) async throws {
            try await cluster.withApp(region: "ord", primaryRegion: "nrt", writeMode: .replay) { client, _ in
                var headers = HTTPFields()
                if let value { headers[.cookie] = "wal=\(value)" }
                try await withReplayPaused {
                    let started = ContinuousClock.now
                    let response = try await client.execute(uri: "/users", method: .get, headers: headers)
                    #expect(ContinuousClock.now - started < .milliseconds(500))
                    #expect(response.status == .ok)
                    #expect(response.badgeDatabase == "replica")
                    #expect(response.badgeAttribute("data-replication-wait-ms") == nil)
                    if value != nil { #expect(response.setCookies["wal"] == "") }
                }
            }
        }

        @Test("A cookie whose position the replica already has costs no wait")
        func alreadyReplayed() async throws {
            try await cluster.withApp(region: "ord", primaryRegion: "nrt", writeMode: .direct) { client, dependencies in
                var jar = CookieJar()
                let id = try await client.createUser(name: "Quick", age: 3, jar: &jar)
                try await cluster.waitForReplicaToCatchUp()
                await dependencies.tracker?.poll()
                let page = try await client.get("/users/\(id)", jar: &jar)
                #expect(page.status == .ok)
                #expect(page.badgeDatabase == "replica")
                #expect(page.badgeAttribute("data-replication-wait-ms") == nil)
                #expect(jar.cookies["wal"] == nil)
            }
        }
    }
}
