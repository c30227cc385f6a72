import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1

/// Plays Fly's proxy for the app on one machine.
///
/// Picks an instance by `fly-force-region` (no fallback: an unknown region is a 503), else
/// `fly-prefer-region` (or the region picker's cookie, or the primary),
/// adds `Fly-Region`, follows `fly-replay` to the named region with `fly-replay-src`, and
/// streams the final response back. Logs one line per request.
///
/// A replay's `timeout` and `fallback` work as Fly documents them: when the target does not
/// answer within `timeout` (or cannot be reached), `fallback=force_self` (or `prefer_self`)
/// gives the request back to the instance that asked for the replay, with
/// `fly-replay-failed: instance=…;region=…;replay_source=…;reason=timeout|no_candidate;elapsed_ms=…`;
/// without a fallback the client gets the edge's 502. A fallback request may not answer with
/// `fly-replay` again.
///
/// Regions in ``ColdStarts`` play stopped machines: the request that starts one (and any
/// request that arrives while it boots) is held until the boot ends, then forwarded, as Fly's
/// proxy holds a request while it starts a stopped machine. A replay's `timeout` counts the
/// boot. The log line says so: `GET /users → ord (cold start: held 3000ms) 200 3004.1ms`.
public struct EdgeResponder: HTTPResponder {
    /// The edge needs nothing but Hummingbird's basic context.
    public typealias Context = BasicRequestContext

    /// Fly cannot replay a larger request; neither does this edge.
    public static let maximumBody = 1_048_576
    /// The cookie set by the region picker: "browse as if from this region".
    public static let regionCookie = "edge-region"
    /// Tells the app which regions the picker can offer (only this edge sends it).
    public static let regionsHeader = HTTPField.Name("local-edge-regions")!

    let regions: RegionMap
    let distances: RegionDistances
    let client: HTTPClient
    let logger: Logger
    let machines: SimulatedMachines

    /// The configuration of the client an edge forwards with: redirects and compressed bodies
    /// passed back as they are, and connections to an instance without a limit of the edge's
    /// own. Every open event stream holds one for as long as it is open, and with
    /// AsyncHTTPClient's default of 8 per host, the ninth request to a region with eight live
    /// pages open would wait (Fly's proxy has no such limit).
    public static var clientConfiguration: HTTPClient.Configuration {
        var configuration = HTTPClient.Configuration(redirectConfiguration: .disallow)
        configuration.decompression = .disabled
        configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 100_000)
        return configuration
    }

    /// An edge in front of `regions`, adding `distances` between them, sending with `client`.
    ///
    /// - Parameters:
    ///   - regions: The regions and their instances, the primary first.
    ///   - distances: The simulated round trips between regions.
    ///   - coldStarts: The regions whose machine is stopped until a request needs it (none by default).
    ///   - client: Sends the requests to the instances.
    ///   - logger: Gets one line per request.
    public init(regions: RegionMap, distances: RegionDistances, coldStarts: ColdStarts = .none, client: HTTPClient, logger: Logger) {
        self.regions = regions
        self.distances = distances
        self.machines = SimulatedMachines(coldStarts)
        self.client = client
        self.logger = logger
    }

    /// Routes the request to a region, follows `fly-replay`, and streams the answer back.
    public func respond(to request: Request, context: Context) async throws -> Response {
        if request.uri.path == "/_edge/region" { return switchRegion(request) }
        let started = ContinuousClock.now

        // The edge the browser "visits": the picker's region, else the primary's.
        let edgeRegion = regions.region(named: request.cookies[Self.regionCookie]?.value) ?? regions.primary
        // `fly-force-region` never falls back (Fly, since 2025-11); `fly-prefer-region` falls
        // back to the edge's region.
        let target: RegionMap.Region
        if let forced = request.headers[Self.forceRegion] {
            guard let region = regions.region(named: forced) else {
                log(request, edge: edgeRegion, first: edgeRegion, note: " (fly-force-region \(forced): no machine)", status: 503, started: started)
                return Self.plain(.serviceUnavailable, "No machine of this app runs in region \(forced) (fly-force-region never falls back).\n")
            }
            target = region
        } else {
            target = regions.region(named: request.headers[Self.preferRegion]) ?? edgeRegion
        }

        var request = request
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: Self.maximumBody)
        } catch {
            return Self.plain(.contentTooLarge, "The local edge, like Fly's proxy, does not replay requests over 1 MB.\n")
        }
        var headers = forwardedHeaders(request.headers)
        headers.replaceOrAdd(name: "fly-region", value: edgeRegion.name)
        headers.replaceOrAdd(name: Self.regionsHeader.rawName, value: regions.names.joined(separator: ","))

        var served = target
        var routeNote = ""
        do {
            await travel(from: edgeRegion.name, to: target.name)
            let boot = try await wake(target)
            routeNote = boot.note
            var response = try await send(request, headers: headers, body: body, to: target)
            if let replay = response.headers.first(name: "fly-replay").flatMap(Self.parseReplay),
                let destination = regions.region(named: replay.region)
            {
                // Fly's proxy takes over: the first answer never reaches the client.
                for try await _ in response.body {}
                let timestamp = Int64(Date().timeIntervalSince1970 * 1_000_000)
                var replayed = headers
                replayed.replaceOrAdd(
                    name: "fly-replay-src",
                    value: "instance=local-\(target.name);region=\(target.name);t=\(timestamp);state=\(replay.state)"
                )
                let replayStarted = ContinuousClock.now
                do {
                    await travel(from: target.name, to: destination.name)
                    let destinationBoot = try await wake(destination, within: replay.timeout)
                    response = try await send(
                        request, headers: replayed, body: body, to: destination, timeout: replay.timeout.map { $0 - destinationBoot.waited }
                    )
                    served = destination
                    routeNote += " → replayed (\(replay.state.isEmpty ? "no state" : replay.state)) → \(destination.name)\(destinationBoot.note)"
                } catch where replay.fallsBack {
                    let reason = Self.isTimeout(error) ? "timeout" : "no_candidate"
                    let elapsed = ContinuousClock.now - replayStarted
                    var fallback = headers
                    fallback.replaceOrAdd(
                        name: "fly-replay-failed",
                        value: "instance=local-\(destination.name);region=\(destination.name);replay_source=local-\(target.name);reason=\(reason);elapsed_ms=\(Self.milliseconds(elapsed))"
                    )
                    response = try await send(request, headers: fallback, body: body, to: target)
                    routeNote += " → replay to \(destination.name) failed (\(reason)) → back to \(target.name)"
                    if response.headers.first(name: "fly-replay") != nil {
                        for try await _ in response.body {}
                        log(request, edge: edgeRegion, first: target, note: routeNote + " (answered fly-replay again)", status: 502, started: started)
                        return Self.plain(.badGateway, "A fallback request may not answer with fly-replay again (as on Fly).\n")
                    }
                }
            }
            log(request, edge: edgeRegion, first: target, note: routeNote, status: Int(response.status.code), started: started)
            return Self.response(from: response)
        } catch {
            log(request, edge: edgeRegion, first: target, note: routeNote + " (\(served.name) unreachable)", status: 502, started: started)
            return Self.plain(.badGateway, "The app instance in \(served.name) is not answering. Is scripts/dev still running it?\n")
        }
    }

    static let preferRegion = HTTPField.Name("fly-prefer-region")!
    static let forceRegion = HTTPField.Name("fly-force-region")!

    /// `/_edge/region?to=ord&back=/users/1`: remembers the region and goes back.
    private func switchRegion(_ request: Request) -> Response {
        let query = request.uri.queryParameters
        let back = query["back"].map(String.init).flatMap { $0.hasPrefix("/") && !$0.hasPrefix("//") ? $0 : nil } ?? "/users"
        var response = Response.redirect(to: back, type: .normal)
        if let region = regions.region(named: query["to"].map(String.init)) {
            response.setCookie(Cookie(name: Self.regionCookie, value: region.name, path: "/", httpOnly: true, sameSite: .lax))
        }
        return response
    }

    private func send(
        _ request: Request, headers: HTTPHeaders, body: ByteBuffer, to region: RegionMap.Region, timeout: Duration? = nil
    ) async throws -> HTTPClientResponse {
        var outgoing = HTTPClientRequest(url: region.instanceURL + (request.uri.string.hasPrefix("/") ? request.uri.string : "/" + request.uri.string))
        outgoing.method = HTTPMethod(rawValue: request.method.rawValue)
        outgoing.headers = headers
        if body.readableBytes > 0 || request.method == .post || request.method == .put || request.method == .patch {
            outgoing.body = .bytes(body)
        }
        // The app answers every request within its own deadline (5 s by default); without a
        // replay's `timeout`, this only bounds an instance that stopped answering altogether.
        let bound: TimeAmount = timeout.map { .nanoseconds(max(1, $0.components.seconds * 1_000_000_000 + $0.components.attoseconds / 1_000_000_000)) } ?? .seconds(30)
        return try await client.execute(outgoing, timeout: bound, logger: logger)
    }

    /// A simulated machine that was still booting when a replay's `timeout` ran out.
    private struct BootTimeout: Error {}

    /// Holds the request while `region`'s simulated machine boots, at most `bound` (then
    /// throws ``BootTimeout``); how long it waited, and a note for the log line.
    private func wake(_ region: RegionMap.Region, within bound: Duration? = nil) async throws -> (waited: Duration, note: String) {
        let admission = await machines.admit(region.name)
        let wait = admission.wait
        guard wait > .zero else { return (.zero, "") }
        let what = if case .started = admission { "cold start" } else { "\(region.name) still booting" }
        if let bound, wait > bound {
            try? await Task.sleep(for: bound)
            throw BootTimeout()
        }
        try? await Task.sleep(for: wait)
        return (wait, " (\(what): held \(Self.milliseconds(wait))ms)")
    }

    private static func milliseconds(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
    }

    /// Whether a failed send ran out of time (rather than finding nobody to connect to).
    private static func isTimeout(_ error: any Error) -> Bool {
        if error is BootTimeout { return true }
        if let error = error as? HTTPClientError {
            return error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout
        }
        return false
    }

    /// Sleeps for the simulated round trip between two regions.
    private func travel(from: String, to: String) async {
        let delay = distances.roundTrip(from, to)
        if delay > .zero { try? await Task.sleep(for: delay) }
    }

    /// One line per request: `[edge nrt] POST /users → ord → replayed (write) → nrt 303 193.4ms`.
    private func log(_ request: Request, edge: RegionMap.Region, first: RegionMap.Region, note: String, status: Int, started: ContinuousClock.Instant) {
        let elapsed = ContinuousClock.now - started
        let ms = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        logger.info("[edge \(edge.name)] \(request.method) \(request.uri.path) → \(first.name)\(note) \(status) \(String(format: "%.1f", ms))ms")
    }

    /// Headers that belong to one connection, not to the request, are not forwarded.
    static let hopByHop: Set<String> = [
        "connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade", "host", "content-length",
    ]

    private func forwardedHeaders(_ fields: HTTPFields) -> HTTPHeaders {
        var headers = HTTPHeaders()
        for field in fields where !Self.hopByHop.contains(field.name.canonicalName) {
            headers.add(name: field.name.rawName, value: field.value)
        }
        return headers
    }

    /// What a `fly-replay: region=X;state=S;timeout=800ms;fallback=force_self` header asks for.
    struct Replay: Equatable {
        let region: String
        let state: String
        /// How long to try the target (`800ms`, `10s`), if given.
        let timeout: Duration?
        /// Whether a failed replay comes back to the asking instance (`force_self`, `prefer_self`).
        let fallsBack: Bool
    }

    static func parseReplay(_ value: String) -> Replay? {
        var fields: [String: String] = [:]
        for part in value.split(separator: ";") {
            let pair = part.split(separator: "=", maxSplits: 1)
            if pair.count == 2 { fields[pair[0].trimmingCharacters(in: .whitespaces)] = pair[1].trimmingCharacters(in: .whitespaces) }
        }
        guard let region = fields["region"] else { return nil }
        let timeout = fields["timeout"].flatMap { try? RegionDistances.duration($0) }
        return Replay(
            region: region, state: fields["state"] ?? "", timeout: timeout,
            fallsBack: ["force_self", "prefer_self"].contains(fields["fallback"] ?? "")
        )
    }

    private static func response(from upstream: HTTPClientResponse) -> Response {
        var fields = HTTPFields()
        for header in upstream.headers where !hopByHop.contains(header.name.lowercased()) || header.name.lowercased() == "content-length" {
            guard let name = HTTPField.Name(header.name), header.name.lowercased() != "fly-replay" else { continue }
            fields.append(HTTPField(name: name, value: header.value))
        }
        return Response(
            status: HTTPResponse.Status(code: Int(upstream.status.code), reasonPhrase: upstream.status.reasonPhrase),
            headers: fields,
            body: ResponseBody(asyncSequence: upstream.body)
        )
    }

    private static func plain(_ status: HTTPResponse.Status, _ text: String) -> Response {
        Response(status: status, headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}
