public import Hummingbird
public import MultiRegion

/// Sends writes to the primary region before they touch any database.
///
/// In `replay` mode, outside the primary region, a request that writes (see ``RouteKind``) is
/// answered with 409 and `fly-replay`, and Fly's proxy runs it again in the primary region. A
/// request that was already replayed and would need replaying again fails with
/// `MultiRegionError.replayLoop`: a loop helps no one.
/// When Fly gives a write back because the replay failed (`fly-replay-failed`), it fails with
/// `MultiRegionError.replayFailed` and is never
/// replayed again. A body larger than Fly can replay (declared, or chunked and growing past
/// the limit) is refused with 413 in every region.
public struct WriteRoutingMiddleware<Context: MultiRegionRequestContext>: RouterMiddleware {
    @usableFromInline let database: MultiRegionDatabase
    @usableFromInline let kind: RouteKind

    /// - Parameters:
    ///   - database: Where the regions and the write mode come from.
    ///   - kind: Which requests write (default: by method).
    public init(database: MultiRegionDatabase, kind: RouteKind = .byMethod) {
        self.database = database
        self.kind = kind
    }

    /// Refuses a body Fly could not replay; answers a write that must run in the primary region
    /// with a replay (or the failure of one); runs every other request.
    @inlinable
    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if try database.mustRouteWrite(request, kind: kind) {
            return try await database.routeWrite(request, state: context.multiRegion)
        }
        return try await next(request, context)
    }
}

extension MultiRegionDatabase {
    /// Whether `request` writes and must run in the primary region, where this instance is not:
    /// the write routing has to answer it (`routeWrite`). Decided without waiting, so a read
    /// pays no step of its own here.
    ///
    /// - Throws: 413 for a declared body larger than Fly can replay, in every region.
    @usableFromInline
    func mustRouteWrite(_ request: Request, kind: RouteKind) throws -> Bool {
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > FlyReplay.maximumReplayableBody {
            throw HTTPError(.contentTooLarge)
        }
        return kind.writes(request.method) && configuration.writeMode == .replay && !regions.isPrimaryRegion
    }

    /// The answer for a write that `mustRouteWrite` says must not run here: a replay, or the
    /// failure of one.
    @usableFromInline
    func routeWrite(_ request: Request, state: MultiRegionRequestState) async throws -> Response {
        if let failure = state.replayFailure {
            throw MultiRegionError.replayFailed(primaryRegion: regions.primaryRegion, reason: failure.reason, waited: failure.elapsed)
        }
        if request.headers[.contentLength] == nil {
            // A chunked body: Fly cannot replay it past the limit either, so find out first.
            var request = request
            _ = try await request.collectBody(upTo: FlyReplay.maximumReplayableBody)
        }
        return try replay(state, reason: .write)
    }

    /// The replay of a request to the primary region, counted; a request that was replayed
    /// already fails with the replay loop instead.
    func replay(_ state: MultiRegionRequestState, reason: FlyReplay.Reason) throws -> Response {
        if state.replayedFrom != nil {
            throw MultiRegionError.replayLoop(region: regions.region, primaryRegion: regions.primaryRegion)
        }
        metrics.replaySent(reason: reason.rawValue)
        return FlyReplay.response(to: regions.primaryRegion, reason: reason, timeout: configuration.replayTimeout)
    }

    /// Whether reads that the replica cannot serve go to Fly's replay, not a direct connection:
    /// in replay mode outside the primary region, unless this request is the fallback of a
    /// replay that already failed.
    func replaysToPrimary(_ state: MultiRegionRequestState) -> Bool {
        configuration.writeMode == .replay && !regions.isPrimaryRegion && state.replayFailure == nil
    }
}
