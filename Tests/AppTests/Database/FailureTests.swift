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
    @Suite("Replica down and primary down, by stopping the real servers", .serialized)
    struct FailureTests {
        let cluster: TestCluster

        init() async throws {
            cluster = try TestCluster()
            try await cluster.resetUsers()
        }

        /// Repeats `attempt` until it returns true, for at most `timeout`.
        private func eventually(within timeout: Duration = .seconds(20), _ attempt: () async throws -> Bool) async throws -> Bool {
            let deadline = ContinuousClock.now + timeout
            while ContinuousClock.now < deadline {
                if try await attempt() { return true }
                try await Task.sleep(for: .milliseconds(200))
            }
            return false
        }

        @Test("With the replica stopped, reads come from the primary and say so; after a restart they return to the replica")
        func replicaDown() async throws {
            try await cluster.withApp(region: "ord", primaryRegion: "nrt", writeMode: .direct) { client, dependencies in
                var jar = CookieJar()
                let id = try await client.createUser(name: "Survivor", age: 50, jar: &jar)
                try cluster.pgCtl("stop", .replica)
                do {
                    await dependencies.tracker?.poll()
                    let started = ContinuousClock.now
                    let page = try await client.get("/users/\(id)", jar: &jar)
                    #expect(ContinuousClock.now - started < .seconds(5))
                    #expect(page.status == .ok)
                    #expect(page.text.contains("Survivor"))
                    #expect(page.badgeDatabase == "primary")
                    #expect(page.badgeAttribute("data-replica-lag") == "unreachable")
                    let ready = try await client.execute(uri: "/readyz", method: .get)
                    #expect(ready.status == .serviceUnavailable)
                } catch {
                    try? cluster.pgCtl("start", .replica)
                    throw error
                }
                try cluster.pgCtl("start", .replica)
                let back = try await eventually {
                    let page = try await client.execute(uri: "/users/\(id)", method: .get)
                    return page.status == .ok && page.badgeDatabase == "replica"
                }
                #expect(back, "reads return to the replica without a restart")
            }
        }

        @Test("In replay mode, with the replica stopped, reads are replayed to the primary region")
        func replicaDownReplay() async throws {
            try await cluster.withApp(region: "ord", primaryRegion: "nrt", writeMode: .replay) { client, dependencies in
                try cluster.pgCtl("stop", .replica)
                defer { try? cluster.pgCtl("start", .replica) }
                await dependencies.tracker?.poll()
                let response = try await client.execute(uri: "/users", method: .get)
                #expect(response.status == .conflict)
                #expect(response.headers[HTTPField.Name("fly-replay")!] == "region=nrt;state=replica_down;timeout=6000ms;fallback=force_self")
            }
        }

        @Test("With the primary stopped, writes get a quick 503 and reads go on from the replica; after a restart writes work")
        func primaryDown() async throws {
            try await cluster.withApp(region: "ord", primaryRegion: "nrt", writeMode: .direct) { client, _ in
                var jar = CookieJar()
                let id = try await client.createUser(name: "Before", age: 1, jar: &jar)
                try await cluster.waitForReplicaToCatchUp()
                try cluster.pgCtl("stop", .primary)
                do {
                    let started = ContinuousClock.now
                    let write = try await client.execute(
                        uri: "/users", method: .post, headers: formHeaders(), body: formBody([("name", "During"), ("age", "2")])
                    )
                    #expect(ContinuousClock.now - started < .seconds(6))
                    #expect(write.status == .serviceUnavailable)
                    #expect(write.headers[.retryAfter] != nil)
                    #expect(write.text.contains("Writes are unavailable right now"))
                    #expect(!write.text.contains("127.0.0.1"))

                    let read = try await client.get("/users/\(id)", jar: &jar)
                    #expect(read.status == .ok)
                    #expect(read.badgeDatabase == "replica")
                    #expect(read.text.contains("Before"))
                } catch {
                    try? cluster.pgCtl("start", .primary)
                    throw error
                }
                try cluster.pgCtl("start", .primary)
                let writesWork = try await eventually {
                    let write = try await client.execute(
                        uri: "/users", method: .post, headers: formHeaders(), body: formBody([("name", "After"), ("age", "3")])
                    )
                    return write.status == .seeOther
                }
                #expect(writesWork, "writes work again without a restart")
            }
            try await cluster.waitForReplicaToCatchUp()
        }
    }
}
