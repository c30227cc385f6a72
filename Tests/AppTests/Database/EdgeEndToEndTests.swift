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

@testable import App

extension DatabaseTests {
    @Suite("End to end through the local edge, three regions, real replication", .serialized)
    struct EdgeEndToEndTests {
        let cluster: TestCluster

        init() async throws {
            cluster = try TestCluster()
            try await cluster.reset()
        }

        /// Runs nrt (primary), ord and ams app instances on real ports, and the edge in front.
        private func withRegions(_ test: @Sendable (EdgeClient) async throws -> Void) async throws {
            var services: [any Service] = []
            var regions: [RegionMap.Region] = []
            for region in ["nrt", "ord", "ams"] {
                let port = try freePort()
                let configuration = try cluster.configuration(
                    region: region,
                    primaryRegion: "nrt",
                    writeMode: .replay,
                    useReplica: region != "nrt",
                    extra: ["HOST": "127.0.0.1", "PORT": "\(port)"]
                )
                services.append(try buildApplication(configuration: configuration))
                regions.append(.init(name: region, instanceURL: "http://127.0.0.1:\(port)"))
            }
            let edgePort = try freePort()
            let httpClient = HTTPClient(
                eventLoopGroupProvider: .singleton,
                configuration: .init(redirectConfiguration: .disallow)
            )
            var logger = Logger(label: "edge-test")
            logger.logLevel = .warning
            services.append(
                Application(
                    responder: EdgeResponder(regions: try RegionMap(regions), distances: .none, client: httpClient, logger: logger),
                    configuration: .init(address: .hostname("127.0.0.1", port: edgePort)),
                    logger: logger
                )
            )
            let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [], logger: logger))
            let client = EdgeClient(http: httpClient, base: "http://127.0.0.1:\(edgePort)")
            do {
                try await withThrowingTaskGroup(of: Void.self) { tasks in
                    tasks.addTask { try await group.run() }
                    try await client.waitUntilUp()
                    try await test(client)
                    await group.triggerGracefulShutdown()
                    try await tasks.waitForAll()
                }
            } catch {
                try? await httpClient.shutdown()
                throw error
            }
            try await httpClient.shutdown()
        }

        @Test("A user created from ord is replayed to nrt, and ord then shows it, never a 404 or stale data")
        func createFromReplicaRegion() async throws {
            try await withRegions { edge in
                var jar: [String: String] = [:]
                let created = try await edge.send(.POST, "/users", region: "ord", jar: &jar, form: "name=Ada+from+ord&age=36")
                #expect(created.status == .seeOther)
                let location = try #require(created.headers.first(name: "location"))
                #expect(created.headers.first(name: "fly-region") == "nrt", "the write ran in the primary region")
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
                #expect(updated.headers.first(name: "fly-region") == "nrt")
                let shown = try await edge.send(.GET, location, region: "ams", jar: &jar)
                #expect(shown.status == .ok)
                #expect(shown.body.contains("Grace Hopper"))
                #expect(shown.body.contains("<dd>41</dd>"))
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
    }
}

/// A tiny browser for the edge: sends requests, keeps cookies.
struct EdgeClient: Sendable {
    let http: HTTPClient
    let base: String

    struct Reply {
        let status: HTTPResponseStatus
        let headers: HTTPHeaders
        let body: String
    }

    func send(_ method: HTTPMethod, _ path: String, region: String, jar: inout [String: String], form: String? = nil) async throws -> Reply {
        var request = HTTPClientRequest(url: base + path)
        request.method = method
        request.headers.add(name: "fly-prefer-region", value: region)
        if !jar.isEmpty { request.headers.add(name: "cookie", value: jar.map { "\($0.key)=\($0.value)" }.joined(separator: "; ")) }
        if let form {
            request.headers.add(name: "content-type", value: "application/x-www-form-urlencoded")
            request.body = .bytes(ByteBuffer(string: form))
        }
        let response = try await http.execute(request, timeout: .seconds(30))
        let body = String(buffer: try await response.body.collect(upTo: 4_000_000))
        for header in response.headers[canonicalForm: "set-cookie"] {
            let pair = header.split(separator: ";")[0].split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let value = pair.count == 2 ? String(pair[1]) : ""
            jar[String(pair[0])] = value.isEmpty ? nil : value
        }
        return Reply(status: response.status, headers: response.headers, body: body)
    }

    func waitUntilUp() async throws {
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            for region in ["nrt", "ord", "ams"] {
                var request = HTTPClientRequest(url: base + "/readyz")
                request.headers.add(name: "fly-prefer-region", value: region)
                guard let response = try? await http.execute(request, timeout: .seconds(2)), response.status == .ok else { break }
                if region == "ams" { return }
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TestFailure("the edge and the three instances did not come up")
    }
}

/// A TCP port that was free a moment ago, on loopback.
func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw TestFailure("socket() failed") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
    guard bound == 0 else { throw TestFailure("bind() failed") }
    let named = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
    guard named == 0 else { throw TestFailure("getsockname() failed") }
    return Int(UInt16(bigEndian: address.sin_port))
}
