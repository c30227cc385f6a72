import Configuration
import Foundation
import Guestbook
import MultiRegion
import MultiRegionTesting
import Testing

/// The guestbook in nrt (primary) and ord (replica), through the local edge, against the real
/// primary and streaming replica that the root package's `scripts/test` starts.
@Suite("The guestbook through the local edge, against the real primary and replica", .serialized)
struct GuestbookTests {
    let cluster: TestCluster

    init() async throws {
        cluster = try TestCluster().usingDatabase("guestbook_test")
        let migrations = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Migrations").path
        try await cluster.reset(migrationsDirectory: migrations, truncating: ["entries"])
    }

    /// Runs both regions in replay mode behind the edge.
    private func withRegions(_ test: @Sendable (EdgeClient) async throws -> Void) async throws {
        try await withLocalEdge(regions: ["nrt", "ord"], makeInstance: { region, port in
            let environment = cluster.environment(
                region: region, primaryRegion: "nrt", writeMode: .replay, useReplica: region != "nrt",
                extra: ["HOST": "127.0.0.1", "PORT": "\(port)", "SECRET_KEY_BASE": String(repeating: "guestbook-", count: 4)]
            )
            return try buildGuestbook(reader: ConfigReader(provider: EnvironmentVariablesProvider(environmentVariables: environment)))
        }, test)
    }

    @Test("An entry written in ord is replayed to nrt, then read back in ord from the replica, never stale")
    func writeInReplicaRegion() async throws {
        try await withRegions { edge in
            var jar: [String: String] = [:]
            let created = try await edge.send(.POST, "/entries", region: "ord", jar: &jar, form: "body=Hello+from+ord")
            #expect(created.status == .seeOther)
            #expect(created.headers.first(name: "served-region") == "nrt", "the write ran in the primary region")
            #expect(jar["wal"] != nil, "the write's position travels in the cookie")

            let list = try await edge.send(.GET, "/entries", region: "ord", jar: &jar)
            #expect(list.status == .ok)
            #expect(list.headers.first(name: "served-region") == "ord")
            #expect(list.body.contains("served in ord, read from the replica"))
            #expect(list.body.contains("- Hello from ord (written in nrt)"), "the writer sees their own entry at once")
        }
    }

    @Test("With the replica stopped, ord's reads go on and show every entry")
    func replicaDown() async throws {
        try await withRegions { edge in
            var jar: [String: String] = [:]
            _ = try await edge.send(.POST, "/entries", region: "nrt", jar: &jar, form: "body=Before+the+outage")
            try await cluster.waitForReplicaToCatchUp()
            try cluster.pgCtl("stop", .replica)
            do {
                var stranger: [String: String] = [:]
                let list = try await edge.send(.GET, "/entries", region: "ord", jar: &stranger)
                #expect(list.status == .ok)
                #expect(list.body.contains("Before the outage"))
                #expect(list.body.contains("read from the primary"))
                try cluster.pgCtl("start", .replica)
            } catch {
                try? cluster.pgCtl("start", .replica)
                throw error
            }
        }
    }
}
