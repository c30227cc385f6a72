public import Hummingbird
public import MultiRegion

/// Chooses the database for a request's reads, keeps them consistent with the reader's own
/// writes, and gives the request its ``MultiRegion/DatabaseSession`` (`context.database`).
///
/// - No replica configured: reads use the primary.
/// - Replica unreachable: reads use the primary (in `replay` mode outside the primary
///   region, Fly replays the request there instead).
/// - The request carries a read-your-writes cookie: wait, bounded by
///   `READ_YOUR_WRITES_TIMEOUT`, until the replica has replayed that position; if it does not
///   in time, read from the primary (or replay).
/// - The replica refuses a write (SQLSTATE 25006, a write hidden in a GET): replay the request
///   in the primary region, or, where the primary is reachable directly, run it again there.
/// - The request is the fallback of a failed replay (`fly-replay-failed`): nothing replays
///   again; reads go to the primary directly, and a stale read that cannot reach it gets the
///   replica's answer, flagged ``MultiRegion/DatabaseSession/mayBeStale``.
/// - After the handler: a request that wrote gets the cookie with the primary's position; one
///   whose position the replica has replayed loses it.
public struct ReadRoutingMiddleware<Context: MultiRegionRequestContext>: RouterMiddleware {
    let database: MultiRegionDatabase
    let readYourWrites: ReadYourWrites
    let kind: RouteKind

    /// - Parameters:
    ///   - database: The databases and the tracker.
    ///   - readYourWrites: The signed cookie that carries a writer's position.
    ///   - kind: Which requests write (default: by method); with `.writes`, reads use the primary.
    public init(database: MultiRegionDatabase, readYourWrites: ReadYourWrites, kind: RouteKind = .byMethod) {
        self.database = database
        self.readYourWrites = readYourWrites
        self.kind = kind
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        let position = readYourWrites.position(in: request)
        let metrics = database.metrics
        guard let tracker = database.tracker else {
            let session = database.session(readingFrom: .primary)
            context.multiRegion.session = session
            var response = try await next(request, context)
            // The primary has every write; the cookie has nothing left to do.
            finish(&response, session: session, clearing: position != .none)
            return response
        }

        let isWrite = kind.writes(request.method)
        // A GET that writes reads what it writes; other writes read the replica, like any page.
        let session = database.session(readingFrom: kind == .writes ? .primary : .replica)
        context.multiRegion.session = session
        var replicaCaughtUp = false
        let status = await tracker.firstStatus()
        if !status.isReachable {
            if database.replaysToPrimary(context) { return try database.replay(context, reason: .replicaDown) }
            session.readFromPrimary()
            metrics.readFellBackToPrimary(.replicaDown)
        } else if !isWrite, case .written(let lsn) = position {
            let outcome = await tracker.waitUntilReplayed(lsn, timeout: database.configuration.readYourWritesTimeout)
            metrics.readYourWritesWait(outcome)
            switch outcome {
            case .alreadyReplayed:
                replicaCaughtUp = true
            case .caughtUp(let waited):
                context.multiRegion.replicationWait = waited
                replicaCaughtUp = true
            case .timedOut(let waited):
                context.multiRegion.replicationWait = waited
                if database.replaysToPrimary(context) { return try database.replay(context, reason: .stale) }
                // After a failed replay the primary may be out of reach: then the replica's
                // answer, flagged as possibly older than the reader's write, beats an error.
                session.readFromPrimary(orElseReplica: context.multiRegion.replayFailure != nil)
                metrics.readFellBackToPrimary(.stale)
            }
        } else if position == .invalid {
            // Malformed or forged: ignore it, and drop it.
            replicaCaughtUp = true
        }

        var response: Response
        do {
            response = try await next(request, context)
        } catch where PostgresErrors.isReadOnlyViolation(error) && session.readRole == .replica {
            context.logger.notice("A read-only replica refused a write; sending the request to the primary")
            if database.replaysToPrimary(context) { return try database.replay(context, reason: .capturedWrite) }
            session.readFromPrimary()
            metrics.readFellBackToPrimary(.capturedWrite)
            response = try await next(request, context)
        }
        finish(&response, session: session, clearing: replicaCaughtUp)
        return response
    }

    /// Remembers the request's own write in the response, or drops a cookie that has done its work.
    private func finish(_ response: inout Response, session: DatabaseSession, clearing: Bool) {
        if let lsn = session.lastWrite {
            readYourWrites.remember(lsn, in: &response)
        } else if clearing, !response.setsCookie(named: ReadYourWrites.cookieName) {
            response.setCookie(ReadYourWrites.expired)
        }
    }
}
