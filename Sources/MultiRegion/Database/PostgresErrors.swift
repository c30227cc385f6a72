public import Logging
import NIOCore
public import PostgresNIO

/// Questions the app asks of errors thrown by PostgresNIO.
public enum PostgresErrors {
    /// SQLSTATE 25006, what a replica answers to a write.
    public static let readOnlySQLTransaction = "25006"
    /// SQLSTATE 53300, the server refused a connection: `max_connections` is reached.
    public static let tooManyConnections = "53300"
    /// SQLSTATE 23514, a CHECK constraint refused a value.
    public static let checkViolation = "23514"

    /// The SQLSTATE of a server error, looking inside the wrappers PostgresNIO adds
    /// (a transaction error wraps the error of the statement that failed).
    public static func sqlState(of error: any Error) -> String? {
        if let error = error as? PSQLError {
            return error.serverInfo?[.sqlState]
        }
        if let error = error as? PostgresTransactionError {
            for inner in [error.closureError, error.beginError, error.commitError, error.rollbackError] {
                if let inner, let state = sqlState(of: inner) { return state }
            }
        }
        return nil
    }

    /// Whether the error is the server refusing a write because it is read-only.
    public static func isReadOnlyViolation(_ error: any Error) -> Bool {
        sqlState(of: error) == readOnlySQLTransaction
    }

    /// Whether the server could not be reached or went away: the database is unavailable,
    /// as opposed to rejecting this query.
    public static func isUnavailable(_ error: any Error) -> Bool {
        if error is DatabaseTimeout || error is DatabasePool.Closed { return true }
        if let error = error as? MultiRegionError {
            switch error {
            case .primaryUnavailable, .replicaUnavailable, .primaryReadOnly: return true
            case .replayLoop, .replayFailed: return false
            }
        }
        if let error = error as? PostgresTransactionError {
            return [error.beginError, error.closureError, error.commitError].contains { $0.map(isUnavailable) ?? false }
        }
        guard let error = error as? PSQLError else { return false }
        switch error.code {
        case .connectionError, .serverClosedConnection, .clientClosedConnection, .uncleanShutdown, .poolClosed,
            .sslUnsupported, .failedToAddSSLHandler:
            return true
        case .server:
            // Class 57: operator intervention (shutting down, starting up, cannot connect now);
            // class 08: connection exceptions; 53300: too many connections (the server refused
            // a new one, which a request meets like a server that is down).
            let state = error.serverInfo?[.sqlState] ?? ""
            return state.hasPrefix("57") || state.hasPrefix("08") || state == tooManyConnections
        default:
            return false
        }
    }
}

/// A database call that did not finish in time.
public struct DatabaseTimeout: Error, CustomStringConvertible {
    /// The bound that passed.
    public let after: Duration

    /// A timeout after `after`.
    public init(after: Duration) {
        self.after = after
    }

    /// The description, for logs and people.
    public var description: String { "The database did not answer within \(after)." }
}

/// Runs `operation`, giving up with `DatabaseTimeout` after `timeout`, even if the operation
/// never returns (see `withHardTimeout`).
///
/// PostgresNIO's pool has no lease timeout of its own, a server that accepts a connection and
/// then stalls would otherwise hold a request forever, and a query sent on a connection that
/// closed as it was leased never completes and ignores cancellation.
@inlinable
public func withDatabaseTimeout<Result: Sendable>(
    _ timeout: Duration,
    timers: DeadlineTimers,
    _ operation: @escaping @Sendable () async throws -> Result
) async throws -> Result {
    try await withHardTimeout(timeout, timers: timers, timeoutError: { DatabaseTimeout(after: timeout) }, operation: operation)
}

/// `withDatabaseTimeout` for any value, for callers that are not generic; see
/// `withErasedHardTimeout` for `endsOnCancellation`.
func withErasedDatabaseTimeout(
    _ timeout: Duration,
    timers: DeadlineTimers,
    endsOnCancellation: Bool = true,
    operation: @escaping @Sendable () async throws -> any Sendable
) async throws -> any Sendable {
    try await withErasedHardTimeout(
        timeout,
        timers: timers,
        endsOnCancellation: endsOnCancellation,
        timeoutError: { DatabaseTimeout(after: timeout) },
        operation: operation
    )
}

extension PostgresConnection {
    /// Runs a statement and reads its whole result.
    ///
    /// PostgresNIO reports an error that happens while a statement executes (a constraint,
    /// a read-only replica) with the rows, so a statement whose result is never read can
    /// fail silently. Use this for statements that return no rows.
    public func run(_ query: PostgresQuery, logger: Logger = Logger(label: "postgres")) async throws {
        for try await _ in try await self.query(query, logger: logger) {}
    }
}

extension PostgresClient {
    /// Runs a statement and reads its whole result; see `PostgresConnection.run(_:logger:)`.
    public func run(_ query: PostgresQuery, logger: Logger = Logger(label: "postgres")) async throws {
        for try await _ in try await self.query(query, logger: logger) {}
    }
}
