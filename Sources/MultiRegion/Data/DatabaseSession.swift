import Logging
public import PostgresNIO
import Synchronization

/// One request's way to the databases: reads where the request's routing chose, writes on the
/// primary, and a record of both for read-your-writes and the badge.
///
/// The Hummingbird layer makes one per request (`context.database`); handlers and data layers
/// call it and never choose a server themselves:
///
/// ```swift
/// let entries = try await context.database.read { connection in
///     try await connection.query("SELECT body FROM entries ORDER BY id DESC LIMIT 20", logger: logger)...
/// }
/// try await context.database.write { connection in
///     try await connection.run("INSERT INTO entries (body) VALUES (\(body))")  // interpolation binds
/// }
/// ```
///
/// - ``read(_:)`` runs on the routed database within `DATABASE_TIMEOUT`; if the replica fails
///   under it, it runs again on the primary, and the badge says so.
/// - ``write(_:)`` and ``transaction(_:)`` run on the primary and then record the primary's WAL
///   position, so the response can carry it to the writer's next reads. A failed write or
///   transaction records nothing.
///
/// Every call ends within `DATABASE_TIMEOUT`, whatever the server does; it does not end
/// earlier when its request's task is cancelled (the request's work ends on its own).
public final class DatabaseSession: Sendable {
    private struct State {
        var readRole: DatabaseRole
        var answeredBy: DatabaseRole?
        var lastWrite: LSN?
        var replicaIfPrimaryFails = false
        var mayBeStale = false
    }

    /// A call's work on its connection, whatever it returns.
    @usableFromInline
    typealias Body = @Sendable (PostgresConnection) async throws -> any Sendable

    private let database: MultiRegionDatabase
    private let state: Mutex<State>

    init(database: MultiRegionDatabase, readRole: DatabaseRole) {
        self.database = database
        self.state = Mutex(State(readRole: readRole))
    }

    /// Where this instance runs and where the primary is.
    public var regions: RegionInfo { database.regions }

    /// Where this request's reads go now (the replica, unless routing or a fallback said otherwise).
    public var readRole: DatabaseRole { state.withLock { $0.readRole } }

    /// The database whose answer the request used last, or `nil` before any call.
    public var answeredBy: DatabaseRole? { state.withLock { $0.answeredBy } }

    /// The primary's WAL position after this request's last write, if it wrote.
    public var lastWrite: LSN? { state.withLock { $0.lastWrite } }

    /// Whether the page may be older than the reader's own last write: the replica answered
    /// because the primary could not (after a failed replay).
    public var mayBeStale: Bool { state.withLock { $0.mayBeStale } }

    /// Sends the rest of the request's reads to the primary (routing's fallbacks); with
    /// `orElseReplica`, a read the primary cannot answer goes back to the replica.
    package func readFromPrimary(orElseReplica: Bool = false) {
        state.withLock { state in
            state.readRole = .primary
            state.replicaIfPrimaryFails = orElseReplica && database.hasReplica
        }
    }

    /// Runs `body` on the database that serves this request's reads.
    ///
    /// When the replica cannot be reached, `body` runs again on the primary (it must be safe
    /// to run twice: a read is).
    ///
    /// - Parameter body: The read; it gets a connection of its own for its duration.
    /// - Returns: What `body` returned.
    /// - Throws: ``MultiRegionError/primaryUnavailable`` or ``MultiRegionError/replicaUnavailable``
    ///   when no server could answer in time, or `body`'s own error.
    @inlinable
    public func read<Result: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> Result) async throws -> Result {
        // Not generic below this line (see `withHardTimeout`); the value comes back as `body`
        // returned it, so the cast cannot fail. Likewise in the calls that follow.
        try await read(erased: body) as! Result
    }

    @usableFromInline
    func read(erased body: @escaping Body) async throws -> any Sendable {
        let role = readRole
        do {
            return try await call(role, body)
        } catch where role == .replica && database.hasReplica && Self.isOutOfReach(error) {
            database.logger.warning("Replica unavailable; reading from the primary")
            // The replica went away between the tracker's polls: let it look again now.
            database.tracker?.pollSoon()
            database.metrics.readFellBackToPrimary(.replicaDown)
            readFromPrimary()
            do {
                return try await call(.primary, body)
            } catch where Self.isOutOfReach(error) {
                throw MultiRegionError.replicaUnavailable
            }
        } catch where Self.isOutOfReach(error) {
            guard state.withLock({ $0.replicaIfPrimaryFails }) else { throw MultiRegionError.primaryUnavailable }
            database.logger.warning("Primary unavailable after a failed replay; showing the replica's answer, which may be stale")
            state.withLock { $0.mayBeStale = true }
            do {
                return try await call(.replica, body)
            } catch where Self.isOutOfReach(error) {
                throw MultiRegionError.replicaUnavailable
            }
        }
    }

    /// Runs a read on the primary, whatever the routing chose: for a read that must see the
    /// latest state (the current version in a conflict).
    ///
    /// - Parameter body: The read.
    @inlinable
    public func readPrimary<Result: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> Result) async throws -> Result {
        try await readPrimary(erased: body) as! Result
    }

    @usableFromInline
    func readPrimary(erased body: @escaping Body) async throws -> any Sendable {
        do {
            return try await call(.primary, body)
        } catch where Self.isOutOfReach(error) {
            throw MultiRegionError.primaryUnavailable
        }
    }

    /// Runs writing statements on the primary (each commits on its own), then records the
    /// primary's WAL position.
    ///
    /// The position is read after the statements returned: with `synchronous_commit` on (the
    /// default), their commit records are flushed by then, so `pg_current_wal_lsn()` is at or
    /// past them, and never names WAL a replica cannot have yet.
    ///
    /// - Parameter body: The writes, on one connection.
    /// - Returns: What `body` returned.
    /// - Throws: ``MultiRegionError/primaryUnavailable``, or `body`'s error (nothing recorded).
    @inlinable
    public func write<Result: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> Result) async throws -> Result {
        try await write(erased: body) as! Result
    }

    @usableFromInline
    func write(erased body: @escaping Body) async throws -> any Sendable {
        let logger = database.logger
        let written = try await primaryCall { connection -> any Sendable in
            let result = try await body(connection)
            return Written(result: result, position: try await connection.currentWALPosition(logger: logger))
        }
        return record(written)
    }

    /// Runs `body` in a transaction on the primary, then records the WAL position after the
    /// commit; a transaction that fails or rolls back records nothing.
    ///
    /// - Parameter body: The transaction's statements.
    /// - Returns: What `body` returned.
    /// - Throws: ``MultiRegionError/primaryUnavailable``, or the transaction's error.
    @inlinable
    public func transaction<Result: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> Result) async throws -> Result {
        try await transaction(erased: body) as! Result
    }

    @usableFromInline
    func transaction(erased body: @escaping Body) async throws -> any Sendable {
        let logger = database.logger
        let written = try await primaryCall { connection -> any Sendable in
            try await connection.run("BEGIN", logger: logger)
            let result: any Sendable
            do {
                result = try await body(connection)
                try await connection.run("COMMIT", logger: logger)
            } catch {
                try? await connection.run("ROLLBACK", logger: logger)
                throw error
            }
            return Written(result: result, position: try await connection.currentWALPosition(logger: logger))
        }
        return record(written)
    }

    // MARK: - Calls

    /// Whether a call failed because its server could not be reached in time, as opposed to
    /// answering (an error of the statement, or a read-only primary, which is already typed).
    private static func isOutOfReach(_ error: any Error) -> Bool {
        !(error is MultiRegionError) && PostgresErrors.isUnavailable(error)
    }

    private func primaryCall(_ body: @escaping Body) async throws -> any Sendable {
        do {
            return try await call(.primary, body)
        } catch where Self.isOutOfReach(error) {
            throw MultiRegionError.primaryUnavailable
        }
    }

    /// One call on `role` within the database timeout, recorded: its duration and outcome, and
    /// that it holds (or waits for) a connection meanwhile.
    private func call(_ role: DatabaseRole, _ body: @escaping Body) async throws -> any Sendable {
        let server = database.server(for: role)
        let pool = database.pool(for: role)
        let metrics = database.metrics
        let started = ContinuousClock.now
        metrics.databaseCallsInFlight(role: server, change: 1)
        defer { metrics.databaseCallsInFlight(role: server, change: -1) }
        do {
            let logger = database.logger
            // A request's call ends at DATABASE_TIMEOUT, not when the request is cancelled:
            // cheaper on every call, and a request's work ends on its own in any case.
            let timeout = database.configuration.databaseTimeout
            let result = try await withErasedDatabaseTimeout(timeout, timers: database.timers, endsOnCancellation: false, operation: {
                try await pool.withConnection { connection -> any Sendable in
                    guard server == .primary else { return try await body(connection) }
                    do {
                        return try await body(connection)
                    } catch where PostgresErrors.isReadOnlyViolation(error) {
                        // A read-only primary: ask the server why, on the same connection.
                        throw MultiRegionError.primaryReadOnly(inRecovery: try await Self.isInRecovery(connection, logger: logger))
                    }
                }
            })
            metrics.queryFinished(role: server, outcome: .ok, after: .now - started)
            state.withLock { $0.answeredBy = server }
            return result
        } catch {
            metrics.queryFinished(role: server, outcome: .init(error), after: .now - started)
            throw error
        }
    }

    /// What a write's call returns: the body's result and the primary's position after it.
    private struct Written: Sendable {
        let result: any Sendable
        let position: LSN?
    }

    /// Records a write's position; returns its body's result.
    private func record(_ written: any Sendable) -> any Sendable {
        // `write` and `transaction` make the call return a `Written`.
        let written = written as! Written
        if let lsn = written.position {
            state.withLock { state in
                state.lastWrite = max(state.lastWrite ?? lsn, lsn)
            }
        }
        return written.result
    }

    private static func isInRecovery(_ connection: PostgresConnection, logger: Logger) async throws -> Bool {
        var inRecovery = false
        for try await value in try await connection.query("SELECT pg_is_in_recovery()", logger: logger).decode(Bool.self) {
            inRecovery = value
        }
        return inRecovery
    }
}
