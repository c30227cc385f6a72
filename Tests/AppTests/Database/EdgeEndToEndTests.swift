import AsyncHTTPClient
import Configuration
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Hummingbird
import LocalEdge
import Logging
import NIOCore
import NIOHTTP1
import ServiceLifecycle
import Testing

import HummingbirdMultiRegion
import MultiRegion
import MultiRegionTesting

@testable import App

extension DatabaseTests {
    @Suite("End to end through the local edge, three regions, real replication", .serialized)
    struct EdgeEndToEndTests {
        let cluster: TestCluster

        init() async throws {
            cluster = try TestCluster()
            try await cluster.resetUsers()
        }

        /// Runs nrt (primary), ord and ams app instances on real ports, and the edge in front.
        private func withRegions(_ test: @Sendable (EdgeClient) async throws -> Void) async throws {
            try await withLocalEdge(regions: ["nrt", "ord", "ams"], makeInstance: { region, port in
                try buildApplication(configuration: try cluster.appConfiguration(
                    region: region,
                    primaryRegion: "nrt",
                    writeMode: .replay,
                    useReplica: region != "nrt",
                    extra: ["HOST": "127.0.0.1", "PORT": "\(port)"]
                ))
            }, test)
        }

        @Test("A user created from ord is replayed to nrt, and ord then shows it, never a 404 or stale data")
        func createFromReplicaRegion() async throws {
            try await withRegions { edge in
                var jar: [String: String] = [:]
                let created = try await edge.send(.POST, "/users", region: "ord", jar: &jar, form: "name=Ada+from+ord&age=36")
                #expect(created.status == .seeOther)
                let location = try #require(created.headers.first(name: "location"))
                #expect(created.headers.first(name: "served-region") == "nrt", "the write ran in the primary region")
                #expect(jar["wal"] != nil)

                let shown = try await edge.send(.GET, location, region: "ord", jar: &jar)
                #expect(shown.status == .ok)
                #expect(shown.body.contains("Ada from ord"))
                #expect(shown.body.contains("User created."))
                #expect(shown.body.contains("data-region=\"ord\""))
            }
        }

        @Test("An update from ams is replayed to nrt and ams then shows the new values")
        func updateFromAnotherRegion() async throws {
            try await withRegions { edge in
                var jar: [String: String] = [:]
                let created = try await edge.send(.POST, "/users", region: "nrt", jar: &jar, form: "name=Grace&age=40")
                let location = try #require(created.headers.first(name: "location"))
                let updated = try await edge.send(.POST, location, region: "ams", jar: &jar, form: "name=Grace+Hopper&age=41")
                #expect(updated.status == .seeOther)
                #expect(updated.headers.first(name: "served-region") == "nrt")
                let shown = try await edge.send(.GET, location, region: "ams", jar: &jar)
                #expect(shown.status == .ok)
                #expect(shown.body.contains("Grace Hopper"))
                #expect(shown.body.contains("data-field=\"age\">41</dd>"))
                #expect(shown.body.contains("data-region=\"ams\""))
            }
        }

        @Test("fly-prefer-region naming an unknown region goes to the primary region")
        func unknownRegion() async throws {
            try await withRegions { edge in
                var jar: [String: String] = [:]
                let page = try await edge.send(.GET, "/users", region: "xyz", jar: &jar)
                #expect(page.status == .ok)
                #expect(page.body.contains("data-region=\"nrt\""))
                let ord = try await edge.send(.GET, "/users", region: "ord", jar: &jar)
                #expect(ord.body.contains("data-region=\"ord\""))
                #expect(ord.body.contains("data-db=\"replica\""))
                #expect(ord.body.contains("/_edge/region?to=ams"), "behind the edge, the badge offers the region picker")
            }
        }

        @Test("fly-force-region reaches the named region, and an unknown one gets a 503, never another region")
        func forcedRegion() async throws {
            try await withRegions { edge in
                var jar: [String: String] = [:]
                let ams = try await edge.send(.GET, "/users", region: "ams", jar: &jar, forcingRegion: true)
                #expect(ams.status == .ok)
                #expect(ams.headers.first(name: "served-region") == "ams")
                let nowhere = try await edge.send(.GET, "/users", region: "xyz", jar: &jar, forcingRegion: true)
                #expect(nowhere.status == .serviceUnavailable)
                #expect(nowhere.headers.first(name: "served-region") == nil, "no instance answered")
            }
        }
    }
}

