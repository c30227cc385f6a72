import Hummingbird

/// Chooses the database for a request's reads and keeps them consistent with the
/// reader's own writes.
///
/// - No replica configured: reads use the primary.
/// - Replica unreachable: reads use the primary (in `replay` mode outside the primary
///   region, Fly replays the request there instead).
/// - The request carries a read-your-writes cookie: wait, bounded, until the replica has
///   replayed that position; if it does not in time, read from the primary (or replay).
/// - The replica refuses a write (SQLSTATE 25006, a write hidden in a GET): replay the request
///   in the primary region, or, where the primary is reachable directly, run it again there.
struct ReadRoutingMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext

    let regions: RegionInfo
    let mode: WriteMode
    let tracker: ReplicaTracker?
    let readYourWrites: ReadYourWrites
    let waitTimeout: Duration
    let metrics: AppMetrics

    /// Whether reads that the replica cannot serve go to Fly's replay, not a direct connection.
    private var replaysToPrimary: Bool { mode == .replay && !regions.isPrimaryRegion }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        let position = readYourWrites.position(in: request)
        guard let tracker else {
            context.readRole = .primary
            var response = try await next(request, context)
            // The primary has every write; the cookie has nothing left to do.
            if position != .none { clearCookie(in: &response) }
            return response
        }

        var replicaCaughtUp = false
        let status = await tracker.firstStatus()
        if !status.isReachable {
            if replaysToPrimary { return try replay(context, reason: .replicaDown) }
            context.readRole = .primary
            metrics.readFellBackToPrimary(.replicaDown)
        } else if !WriteRoutingMiddleware.isWrite(request.method), case .written(let lsn) = position {
            let outcome = await tracker.waitUntilReplayed(lsn, timeout: waitTimeout)
            metrics.readYourWritesWait(outcome)
            switch outcome {
            case .alreadyReplayed:
                replicaCaughtUp = true
            case .caughtUp(let waited):
                context.replicationWait = waited
                replicaCaughtUp = true
            case .timedOut(let waited):
                context.replicationWait = waited
                if replaysToPrimary { return try replay(context, reason: .stale) }
                context.readRole = .primary
                metrics.readFellBackToPrimary(.stale)
            }
        } else if position == .invalid {
            // Malformed or forged: ignore it, and drop it.
            replicaCaughtUp = true
        }

        var response: Response
        do {
            response = try await next(request, context)
        } catch where PostgresErrors.isReadOnlyViolation(error) && context.readRole == .replica {
            context.logger.notice("A read-only replica refused a write; sending the request to the primary")
            if replaysToPrimary { return try replay(context, reason: .capturedWrite) }
            context.readRole = .primary
            metrics.readFellBackToPrimary(.capturedWrite)
            response = try await next(request, context)
        }
        if replicaCaughtUp { clearCookie(in: &response) }
        return response
    }

    private func replay(_ context: Context, reason: FlyReplay.Reason) throws -> Response {
        if context.replayedFrom != nil { throw WriteRoutingMiddleware.replayLoop(regions) }
        return FlyReplay.response(to: regions.primaryRegion, reason: reason)
    }

    private func clearCookie(in response: inout Response) {
        // A write's response sets a new position; never overwrite it.
        if !response.setsCookie(named: ReadYourWrites.cookieName) { response.setCookie(ReadYourWrites.expired) }
    }
}
