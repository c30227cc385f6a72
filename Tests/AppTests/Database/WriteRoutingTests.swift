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
    @Suite("Write routing across regions, against the real primary and replica", .serialized)
    struct WriteRoutingTests {
        let cluster: TestCluster
        static let flyReplay = HTTPField.Name("fly-replay")!
        static let flyReplaySource = HTTPField.Name("fly-replay-src")!

        init() async throws {
            cluster = try TestCluster()
            try await cluster.resetUsers()
        }

        private func userCount() async throws -> Int64 {
            try await cluster.withClient(.primary) { primary in
                try await primary.query("SELECT count(*) FROM users").decode(Int64.self).reduce(0, +)
            }
        }

        /// A page that writes during a GET through the read connection, like code that forgot
        /// it was on a replica.
        static let hiddenWrite: @Sendable (RouterGroup<AppRequestContext>, AppDependencies) -> Void = { pages, dependencies in
            pages.get("/visits") { _, context in
                let database = try context.database
                try await database.read { try await $0.run("INSERT INTO users (name, age) VALUES ('visitor', 1)") }
                return "counted on the \(database.readRole.rawValue)"
            }
        }

        @Test("In replay mode, a write outside the primary region gets 409 and fly-replay before touching a database")
        func replayWrite() async throws {
            try await cluster.withApp(region: "ord", primaryRegion: "nrt", writeMode: .replay) { client, _ in
                let post = try await client.execute(uri: "/users", method: .post, headers: formHeaders(), body: formBody([("name", "A"), ("age", "1")]))
                #expect(post.status == .conflict)
                #expect(post.headers[Self.flyReplay] == "region=nrt;state=write;timeout=6000ms;fallback=force_self")
                let delete = try await client.execute(uri: "/users/1", method: .post, headers: formHeaders(), body: formBody([("_method", "DELETE")]))
                #expect(delete.status == .conflict)
                #expect(delete.headers[Self.flyReplay] == "region=nrt;state=write;timeout=6000ms;fallback=force_self")
                #expect(try await client.execute(uri: "/users/1", method: .patch).headers[Self.flyReplay] == "region=nrt;state=write;timeout=6000ms;fallback=force_self")
                // Reads are not replayed.
                #expect(try await client.execute(uri: "/users", method: .get).status == .ok)
            }
            #expect(try await userCount() == 0)
        }

        @Test("In the primary region, a replayed write runs, and the badge says where it came from")
        func replayedWriteRunsInPrimary() async throws {
            try await cluster.withApp(region: "nrt", primaryRegion: "nrt", writeMode: .replay) { client, _ in
                var headers = formHeaders()
                headers[Self.flyReplaySource] = "instance=e286;region=ord;t=1700000000000000;state=write"
                let post = try await client.execute(uri: "/users", method: .post, headers: headers, body: formBody([("name", "From ord"), ("age", "30")]))
                #expect(post.status == .seeOther)
                #expect(post.setCookies["wal"]?.isEmpty == false)
                var shown = HTTPFields()
                shown[Self.flyReplaySource] = "instance=e286;region=ord;t=1700000000000000;state=write"
                let page = try await client.execute(uri: "/users", method: .get, headers: shown)
                #expect(page.badgeAttribute("data-replayed-from") == "ord")
            }
            #expect(try await userCount() == 1)
        }

        @Test("In direct mode, a write outside the primary region lands on the primary")
        func directWrite() async throws {
            try await cluster.withApp(region: "ord", primaryRegion: "nrt", writeMode: .direct) { client, _ in
                var jar = CookieJar()
                let id = try await client.createUser(name: "Direct", age: 22, jar: &jar)
                #expect(jar.cookies["wal"] != nil)
                let page = try await client.get("/users/\(id)", jar: &jar)
                #expect(page.status == .ok)
                #expect(page.text.contains("Direct"))
            }
            #expect(try await userCount() == 1)
        }

        @Test("A GET that writes is captured: replayed in replay mode, run on the primary in direct mode")
        func capturedWrite() async throws {
            try await cluster.withApp(region: "ord", primaryRegion: "nrt", writeMode: .replay, addPages: Self.hiddenWrite) { client, _ in
                let response = try await client.execute(uri: "/visits", method: .get)
                #expect(response.status == .conflict)
                #expect(response.headers[Self.flyReplay] == "region=nrt;state=captured_write;timeout=6000ms;fallback=force_self")
            }
            #expect(try await userCount() == 0)
            try await cluster.withApp(region: "ord", primaryRegion: "nrt", writeMode: .direct, addPages: Self.hiddenWrite) { client, _ in
                let response = try await client.execute(uri: "/visits", method: .get)
                #expect(response.status == .ok)
                #expect(response.text == "counted on the primary")
            }
            #expect(try await userCount() == 1)
        }

        @Test("A replayed request that would be replayed again gets a 503 page, never a second replay")
        func loopGuard() async throws {
            try await cluster.withApp(region: "ord", primaryRegion: "nrt", writeMode: .replay, addPages: Self.hiddenWrite) { client, _ in
                var headers = formHeaders()
                headers[Self.flyReplaySource] = "instance=abc;region=ams;t=1;state=write"
                let post = try await client.execute(uri: "/users", method: .post, headers: headers, body: formBody([("name", "A"), ("age", "1")]))
                #expect(post.status == .serviceUnavailable)
                #expect(post.headers[Self.flyReplay] == nil)
                #expect(post.text.contains("misconfigured"))
                let get = try await client.execute(uri: "/visits", method: .get, headers: headers)
                #expect(get.status == .serviceUnavailable)
                #expect(get.headers[Self.flyReplay] == nil)
            }
            #expect(try await userCount() == 0)
        }

        @Test("A body over 1 MB gets a 413 page instead of a replay Fly could not do")
        func tooLargeToReplay() async throws {
            try await cluster.withApp(region: "ord", primaryRegion: "nrt", writeMode: .replay) { client, _ in
                let body = ByteBuffer(string: "name=" + String(repeating: "a", count: 1_100_000) + "&age=1")
                let response = try await client.execute(uri: "/users", method: .post, headers: formHeaders(), body: body)
                #expect(response.status == .contentTooLarge)
                #expect(response.headers[Self.flyReplay] == nil)
            }
        }
    }
}
