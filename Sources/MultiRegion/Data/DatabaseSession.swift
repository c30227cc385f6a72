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
public final class DatabaseSession: Sendable {
    private struct State {
        var readRole: DatabaseRole
        var answeredBy: DatabaseRole?
        var lastWrite: LSN?
        var replicaIfPrimaryFails = false
        var mayBeStale = false
    }

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
    public func read<Result: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> Result) async throws -> Result {
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
    public func readPrimary<Result: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> Result) async throws -> Result {
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
    public func write<Result: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> Result) async throws -> Result {
        let logger = database.logger
        let (result, lsn) = try await primaryCall { connection in
            let result = try await body(connection)
            return (result, try await connection.currentWALPosition(logger: logger))
        }
        record(lsn)
        return result
    }

    /// Runs `body` in a transaction on the primary, then records the WAL position after the
    /// commit; a transaction that fails or rolls back records nothing.
    ///
    /// - Parameter body: The transaction's statements.
    /// - Returns: What `body` returned.
    /// - Throws: ``MultiRegionError/primaryUnavailable``, or the transaction's error.
    public func transaction<Result: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> Result) async throws -> Result {
        let logger = database.logger
        let (result, lsn) = try await primaryCall { connection in
            try await connection.run("BEGIN", logger: logger)
            let result: Result
            do {
                result = try await body(connection)
                try await connection.run("COMMIT", logger: logger)
            } catch {
                try? await connection.run("ROLLBACK", logger: logger)
                throw error
            }
            return (result, try await connection.currentWALPosition(logger: logger))
        }
        record(lsn)
        return result
    }

    // MARK: - Calls

    /// Whether a call failed because its server could not be reached in time, as opposed to
    /// answering (an error of the statement, or a read-only primary, which is already typed).
    private static func isOutOfReach(_ error: any Error) -> Bool {
        !(error is MultiRegionError) && PostgresErrors.isUnavailable(error)
    }

    private func primaryCall<Result: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> Result) async throws -> Result {
        do {
            return try await call(.primary, body)
        } catch where Self.isOutOfReach(error) {
            throw MultiRegionError.primaryUnavailable
        }
    }

    /// One call on `role` within the database timeout, recorded: its duration and outcome, and
    /// that it holds (or waits for) a connection meanwhile.
    private func call<Result: Sendable>(_ role: DatabaseRole, _ body: @escaping @Sendable (PostgresConnection) async throws -> Result) async throws -> Result {
        let server = database.server(for: role)
        let pool = database.pool(for: role)
        let metrics = database.metrics
        let started = ContinuousClock.now
        metrics.databaseCallsInFlight(role: server, change: 1)
        defer { metrics.databaseCallsInFlight(role: server, change: -1) }
        do {
            let logger = database.logger
            let result = try await withDatabaseTimeout(database.configuration.databaseTimeout, timers: database.timers) {
                try await pool.withConnection { connection in
                    guard server == .primary else { return try await body(connection) }
                    do {
                        return try await body(connection)
                    } catch where PostgresErrors.isReadOnlyViolation(error) {
                        // A read-only primary: ask the server why, on the same connection.
                        throw MultiRegionError.primaryReadOnly(inRecovery: try await Self.isInRecovery(connection, logger: logger))
                    }
                }
            }
            metrics.queryFinished(role: server, outcome: .ok, after: .now - started)
            state.withLock { $0.answeredBy = server }
            return result
        } catch {
            metrics.queryFinished(role: server, outcome: .init(error), after: .now - started)
            throw error
        }
    }

    private func record(_ lsn: LSN?) {
        guard let lsn else { return }
        state.withLock { state in
            state.lastWrite = max(state.lastWrite ?? lsn, lsn)
        }
    }

    private static func isInRecovery(_ connection: PostgresConnection, logger: Logger) async throws -> Bool {
        var inRecovery = false
        for try await value in try await connection.query("SELECT pg_is_in_recovery()", logger: logger).decode(Bool.self) {
            inRecovery = value
        }
        return inRecovery
    }
}
