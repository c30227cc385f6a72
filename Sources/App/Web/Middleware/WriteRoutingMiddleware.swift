import Hummingbird

/// Sends writes to the primary region before they touch any database.
///
/// In `replay` mode, outside the primary region, a request that writes (any method but GET,
/// HEAD and OPTIONS, after `_method`) is answered with 409 and `fly-replay`, and Fly's proxy
/// runs it again in the primary region. A request that was already replayed and would need
/// replaying again gets a 503 instead: the regions are misconfigured, and a loop helps no one.
struct WriteRoutingMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext

    let regions: RegionInfo
    let mode: WriteMode

    /// Fly cannot replay a request larger than this.
    static let maximumReplayableBody = 1_048_576

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > Self.maximumReplayableBody {
            throw HTTPError(.contentTooLarge)
        }
        guard Self.isWrite(request.method), mode == .replay, !regions.isPrimaryRegion else {
            return try await next(request, context)
        }
        if context.replayedFrom != nil { throw Self.replayLoop(regions) }
        return FlyReplay.response(to: regions.primaryRegion, reason: .write)
    }

    /// Whether a method changes data: anything but GET, HEAD and OPTIONS.
    static func isWrite(_ method: HTTPRequest.Method) -> Bool {
        method != .get && method != .head && method != .options
    }

    /// The error for a replayed request that would have to be replayed again.
    static func replayLoop(_ regions: RegionInfo) -> HTTPError {
        HTTPError(
            .serviceUnavailable,
            message: "This request was already replayed to this region (\(regions.region)), but it must run in the primary region (\(regions.primaryRegion)). The primary region is misconfigured: check PRIMARY_REGION and where the primary database runs."
        )
    }
}
