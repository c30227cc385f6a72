import AsyncHTTPClient
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

/// Runs one app instance per region on loopback and the local edge in front of them, for the
/// length of `test`, then stops them all.
///
/// - Parameters:
///   - regions: The regions, like `["nrt", "ord", "ams"]`; unknown regions reach the first.
///   - distances: The round trips the edge adds between regions (none by default).
///   - coldStarts: Regions whose machine the edge keeps stopped until a request needs it (none
///     by default). Their instances are asked directly whether they are up, so the test's own
///     first request through the edge is the one that waits for the boot.
///   - makeInstance: Builds the instance of a region listening on `127.0.0.1:port`.
///   - test: Runs with a client that sends requests through the edge.
public func withLocalEdge(
    regions: [String],
    distances: RegionDistances = .none,
    coldStarts: ColdStarts = .none,
    makeInstance: (_ region: String, _ port: Int) throws -> any Service,
    _ test: @Sendable (EdgeClient) async throws -> Void
) async throws {
    var services: [any Service] = []
    var instances: [RegionMap.Region] = []
    for region in regions {
        let port = try freePort()
        services.append(try makeInstance(region, port))
        instances.append(.init(name: region, instanceURL: "http://127.0.0.1:\(port)"))
    }
    let edgePort = try freePort()
    let httpClient = HTTPClient(eventLoopGroupProvider: .singleton, configuration: EdgeResponder.clientConfiguration)
    var logger = Logger(label: "edge-test")
    logger.logLevel = .warning
    services.append(
        Application(
            responder: EdgeResponder(
                regions: try RegionMap(instances), distances: distances, coldStarts: coldStarts, client: httpClient, logger: logger
            ),
            configuration: .init(address: .hostname("127.0.0.1", port: edgePort)),
            logger: logger
        )
    )
    let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [], logger: logger))
    let client = EdgeClient(http: httpClient, base: "http://127.0.0.1:\(edgePort)", regions: regions)
    do {
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            do {
                let cold = instances.filter { coldStarts.bootTime(of: $0.name) != nil }
                try await client.waitUntilUp(regions: regions.filter { region in !cold.contains { $0.name == region } })
                try await waitUntilAnswering(cold.map { $0.instanceURL + "/readyz" }, client: httpClient)
                try await test(client)
            } catch {
                await group.triggerGracefulShutdown()
                throw error
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    } catch {
        try? await httpClient.shutdown()
        throw error
    }
    try await httpClient.shutdown()
}

/// A tiny browser for the edge: sends requests, keeps cookies.
public struct EdgeClient: Sendable {
    /// The client that sends the requests (redirects are not followed).
    public let http: HTTPClient
    /// The edge's address, like `http://127.0.0.1:8080`.
    public let base: String
    /// The regions behind the edge, the primary first.
    public let regions: [String]

    /// An answer, as the browser got it.
    public struct Reply: Sendable {
        /// The status.
        public let status: HTTPResponseStatus
        /// The headers.
        public let headers: HTTPHeaders
        /// The body as text.
        public let body: String
    }

    /// Sends a request that enters at `region` (`fly-prefer-region`), with the cookies in `jar`,
    /// and keeps the cookies the answer sets.
    ///
    /// - Parameters:
    ///   - method: The method.
    ///   - path: The path and query.
    ///   - region: Where the request enters.
    ///   - jar: Cookies by name; updated from `Set-Cookie`.
    ///   - form: A URL-encoded form body, if any.
    ///   - forcingRegion: Send `fly-force-region` (never falls back) instead of `fly-prefer-region`.
    public func send(
        _ method: HTTPMethod, _ path: String, region: String, jar: inout [String: String], form: String? = nil, forcingRegion: Bool = false
    ) async throws -> Reply {
        var request = HTTPClientRequest(url: base + path)
        request.method = method
        request.headers.add(name: forcingRegion ? "fly-force-region" : "fly-prefer-region", value: region)
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

    /// Waits until every region answers `/readyz` with 200 through the edge, at most 20 s.
    public func waitUntilUp() async throws {
        try await waitUntilUp(regions: regions)
    }

    /// Waits until each of `regions` answers `/readyz` with 200 through the edge, at most 20 s;
    /// with none, until the edge answers itself.
    func waitUntilUp(regions: [String]) async throws {
        if regions.isEmpty { return try await waitUntilAnswering([base + "/_edge/region?back=/"], client: http, with: .seeOther) }
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            for region in regions {
                var request = HTTPClientRequest(url: base + "/readyz")
                request.headers.add(name: "fly-prefer-region", value: region)
                guard let response = try? await http.execute(request, timeout: .seconds(2)), response.status == .ok else { break }
                if region == regions.last { return }
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TestFailure("the edge and the instances of \(regions.joined(separator: ", ")) did not come up")
    }
}

/// Waits until each of `urls` answers with `status`, at most 20 s for them all.
private func waitUntilAnswering(_ urls: [String], client: HTTPClient, with status: HTTPResponseStatus = .ok) async throws {
    let deadline = ContinuousClock.now + .seconds(20)
    for url in urls {
        while true {
            if let response = try? await client.execute(HTTPClientRequest(url: url), timeout: .seconds(2)), response.status == status { break }
            guard ContinuousClock.now < deadline else { throw TestFailure("\(url) did not answer \(status.code) within 20 s") }
            try await Task.sleep(for: .milliseconds(50))
        }
    }
}

/// A TCP port that was free a moment ago, on loopback.
public func freePort() throws -> Int {
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
