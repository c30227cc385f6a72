import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1

/// Plays Fly's proxy for the app on one machine.
///
/// Picks an instance by `fly-prefer-region` (or the region picker's cookie, or the primary),
/// adds `Fly-Region`, follows `fly-replay` to the named region with `fly-replay-src`, and
/// streams the final response back. Logs one line per request.
public struct EdgeResponder: HTTPResponder {
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

    public init(regions: RegionMap, distances: RegionDistances, client: HTTPClient, logger: Logger) {
        self.regions = regions
        self.distances = distances
        self.client = client
        self.logger = logger
    }

    public func respond(to request: Request, context: Context) async throws -> Response {
        if request.uri.path == "/_edge/region" { return switchRegion(request) }
        let started = ContinuousClock.now

        // The edge the browser "visits": the picker's region, else the primary's.
        let edgeRegion = regions.region(named: request.cookies[Self.regionCookie]?.value) ?? regions.primary
        let target = regions.region(named: request.headers[Self.preferRegion]) ?? edgeRegion

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
        var replayNote = ""
        do {
            await travel(from: edgeRegion.name, to: target.name)
            var response = try await send(request, headers: headers, body: body, to: target)
            if let replay = response.headers.first(name: "fly-replay").flatMap(Self.parseReplay),
                let destination = regions.region(named: replay.region)
            {
                // Fly's proxy takes over: the first answer never reaches the client.
                for try await _ in response.body {}
                let timestamp = Int64(Date().timeIntervalSince1970 * 1_000_000)
                headers.replaceOrAdd(
                    name: "fly-replay-src",
                    value: "instance=local-\(target.name);region=\(target.name);t=\(timestamp);state=\(replay.state)"
                )
                await travel(from: target.name, to: destination.name)
                response = try await send(request, headers: headers, body: body, to: destination)
                served = destination
                replayNote = " → replayed (\(replay.state.isEmpty ? "no state" : replay.state)) → \(destination.name)"
            }
            log(request, edge: edgeRegion, first: target, note: replayNote, status: Int(response.status.code), started: started)
            return Self.response(from: response)
        } catch {
            log(request, edge: edgeRegion, first: target, note: replayNote + " (\(served.name) unreachable)", status: 502, started: started)
            return Self.plain(.badGateway, "The app instance in \(served.name) is not answering. Is scripts/dev still running it?\n")
        }
    }

    static let preferRegion = HTTPField.Name("fly-prefer-region")!

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

    private func send(_ request: Request, headers: HTTPHeaders, body: ByteBuffer, to region: RegionMap.Region) async throws -> HTTPClientResponse {
        var outgoing = HTTPClientRequest(url: region.instanceURL + (request.uri.string.hasPrefix("/") ? request.uri.string : "/" + request.uri.string))
        outgoing.method = HTTPMethod(rawValue: request.method.rawValue)
        outgoing.headers = headers
        if body.readableBytes > 0 || request.method == .post || request.method == .put || request.method == .patch {
            outgoing.body = .bytes(body)
        }
        // The app answers every request within its own deadline (5 s by default); this only
        // bounds an instance that stopped answering altogether.
        return try await client.execute(outgoing, timeout: .seconds(30), logger: logger)
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

    /// The region and state of a `fly-replay: region=X;state=S` header.
    static func parseReplay(_ value: String) -> (region: String, state: String)? {
        var fields: [String: String] = [:]
        for part in value.split(separator: ";") {
            let pair = part.split(separator: "=", maxSplits: 1)
            if pair.count == 2 { fields[pair[0].trimmingCharacters(in: .whitespaces)] = pair[1].trimmingCharacters(in: .whitespaces) }
        }
        guard let region = fields["region"] else { return nil }
        return (region, fields["state"] ?? "")
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
