public import Hummingbird
public import MultiRegion

/// Chooses the database for a request's reads, keeps them consistent with the reader's own
/// writes, and gives the request its `DatabaseSession` (`context.database`).
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
///   replica's answer, flagged `DatabaseSession.mayBeStale`.
/// - After the handler: a request that wrote gets the cookie with the primary's position; one
///   whose position the replica has replayed loses it.
public struct ReadRoutingMiddleware<Context: MultiRegionRequestContext>: RouterMiddleware {
    @usableFromInline let routing: ReadRouting

    /// - Parameters:
    ///   - database: The databases and the tracker.
    ///   - readYourWrites: The signed cookie that carries a writer's position.
    ///   - kind: Which requests write (default: by method); with `.writes`, reads use the primary.
    public init(database: MultiRegionDatabase, readYourWrites: ReadYourWrites, kind: RouteKind = .byMethod) {
        self.routing = ReadRouting(database: database, readYourWrites: readYourWrites, kind: kind)
    }

    /// Chooses the database the request reads from and gives it its session, runs it, and sets
    /// the read-your-writes cookie after a write.
    @inlinable
    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        try await routing.respond(to: request, context: context, next: next)
    }
}

/// The work of ``ReadRoutingMiddleware`` that does not depend on the context type.
@usableFromInline
struct ReadRouting: Sendable {
    let database: MultiRegionDatabase
    @usableFromInline let readYourWrites: ReadYourWrites
    let kind: RouteKind

    /// What the routing decided before the handler runs.
    @usableFromInline
    struct Plan: Sendable {
        /// The request's session, once it goes on.
        let session: DatabaseSession
        /// An answer instead of the handler (a replay), or the error to throw.
        let answer: Result<Response, any Error>?
        /// How long the request waited for the replica.
        let replicationWait: Duration?
        /// Whether a cookie without a new write is to be dropped afterwards.
        let clearsCookie: Bool

        @usableFromInline
        func early() throws -> Response? {
            try answer?.get()
        }
    }

    /// Chooses the database for the request's reads, runs the request with its session, and
    /// sets or drops the read-your-writes cookie afterwards: the work of both
    /// ``ReadRoutingMiddleware`` and ``MultiRegionMiddleware``.
    @inlinable
    func respond<Context: MultiRegionRequestContext>(
        to request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        var context = context
        let position = readYourWrites.position(in: request)
        // Most requests need no wait (the replica's status is known and they carry no position
        // to wait for): they are routed without a step of their own.
        let plan: Plan
        if let immediate = immediatePlan(request, state: context.multiRegion, position: position) {
            plan = immediate
        } else {
            plan = await waitingPlan(request, state: context.multiRegion, position: position)
        }
        if let early = try plan.early() { return early }
        context.multiRegion.follow(plan)
        var response: Response
        do {
            response = try await next(request, context)
        } catch where isCapturedWrite(error, plan) {
            if let replay = try captured(context.multiRegion, plan, logger: context.logger) { return replay }
            response = try await next(request, context)
        }
        finish(&response, plan)
        return response
    }

    /// The plan, when it can be made without waiting: there is no replica, or the tracker has
    /// polled it and the request has no write of its own to wait for. `nil` when the plan must
    /// wait.
    @usableFromInline
    func immediatePlan(_ request: Request, state: MultiRegionRequestState, position: ReadYourWrites.Position) -> Plan? {
        guard let tracker = database.tracker else { return primaryOnlyPlan(position) }
        guard let status = tracker.status, ownWrite(request, status: status, position: position) == nil else { return nil }
        return plan(state: state, status: status, position: position)
    }

    /// The plan, after waiting for the tracker's first poll, and for the replica to replay the
    /// reader's own write (bounded by `READ_YOUR_WRITES_TIMEOUT`).
    @usableFromInline
    func waitingPlan(_ request: Request, state: MultiRegionRequestState, position: ReadYourWrites.Position) async -> Plan {
        guard let tracker = database.tracker else { return primaryOnlyPlan(position) }
        let status = await tracker.firstStatus()
        guard let lsn = ownWrite(request, status: status, position: position) else {
            return plan(state: state, status: status, position: position)
        }
        let outcome = await tracker.waitUntilReplayed(lsn, timeout: database.configuration.readYourWritesTimeout)
        database.metrics.readYourWritesWait(outcome)
        let session = newSession()
        switch outcome {
        case .alreadyReplayed:
            return Plan(session: session, answer: nil, replicationWait: nil, clearsCookie: true)
        case .caughtUp(let waited):
            return Plan(session: session, answer: nil, replicationWait: waited, clearsCookie: true)
        case .timedOut(let waited):
            if database.replaysToPrimary(state) { return replaying(.stale, session: session, state: state, waited: waited) }
            // After a failed replay the primary may be out of reach: then the replica's
            // answer, flagged as possibly older than the reader's write, beats an error.
            session.readFromPrimary(orElseReplica: state.replayFailure != nil)
            database.metrics.readFellBackToPrimary(.stale)
            return Plan(session: session, answer: nil, replicationWait: waited, clearsCookie: false)
        }
    }

    /// The reader's own write that a read must wait for on a replica that answers, if any.
    private func ownWrite(_ request: Request, status: ReplicaStatus, position: ReadYourWrites.Position) -> LSN? {
        guard status.isReachable, !kind.writes(request.method), case .written(let lsn) = position else { return nil }
        return lsn
    }

    /// The plan with no replica: the primary has every write; the cookie has nothing left to do.
    private func primaryOnlyPlan(_ position: ReadYourWrites.Position) -> Plan {
        Plan(session: database.session(readingFrom: .primary), answer: nil, replicationWait: nil, clearsCookie: position != .none)
    }

    /// The plan for a request that waits for nothing, given the replica's status.
    private func plan(state: MultiRegionRequestState, status: ReplicaStatus, position: ReadYourWrites.Position) -> Plan {
        let session = newSession()
        if !status.isReachable {
            if database.replaysToPrimary(state) { return replaying(.replicaDown, session: session, state: state) }
            session.readFromPrimary()
            database.metrics.readFellBackToPrimary(.replicaDown)
            return Plan(session: session, answer: nil, replicationWait: nil, clearsCookie: false)
        }
        // A malformed or forged cookie is ignored, and dropped.
        return Plan(session: session, answer: nil, replicationWait: nil, clearsCookie: position == .invalid)
    }

    /// A session for a request behind a replica: a GET that writes reads what it writes; other
    /// writes read the replica, like any page.
    private func newSession() -> DatabaseSession {
        database.session(readingFrom: kind == .writes ? .primary : .replica)
    }

    private func replaying(_ reason: FlyReplay.Reason, session: DatabaseSession, state: MultiRegionRequestState, waited: Duration? = nil) -> Plan {
        Plan(session: session, answer: Result { try database.replay(state, reason: reason) }, replicationWait: waited, clearsCookie: false)
    }

    /// Whether the handler failed because the replica refused a write hidden in a read.
    @usableFromInline
    func isCapturedWrite(_ error: any Error, _ plan: Plan) -> Bool {
        database.tracker != nil && PostgresErrors.isReadOnlyViolation(error) && plan.session.readRole == .replica
    }

    /// After a captured write: the replay, or `nil` when the request runs again on the primary.
    @usableFromInline
    func captured(_ state: MultiRegionRequestState, _ plan: Plan, logger: Logger) throws -> Response? {
        logger.notice("A read-only replica refused a write; sending the request to the primary")
        if database.replaysToPrimary(state) { return try database.replay(state, reason: .capturedWrite) }
        plan.session.readFromPrimary()
        database.metrics.readFellBackToPrimary(.capturedWrite)
        return nil
    }

    /// Remembers the request's own write in the response, or drops a cookie that has done its work.
    @usableFromInline
    func finish(_ response: inout Response, _ plan: Plan) {
        if let lsn = plan.session.lastWrite {
            readYourWrites.remember(lsn, in: &response)
        } else if plan.clearsCookie, !response.setsCookie(named: ReadYourWrites.cookieName) {
            response.setCookie(ReadYourWrites.expired)
        }
    }
}

extension MultiRegionRequestState {
    /// Takes the routing's decision into the request's state.
    @usableFromInline
    mutating func follow(_ plan: ReadRouting.Plan) {
        session = plan.session
        if let wait = plan.replicationWait { replicationWait = wait }
    }
}

import Logging
