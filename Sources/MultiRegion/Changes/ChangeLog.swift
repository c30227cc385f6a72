public import Logging
public import PostgresNIO

/// A table of changes that a ``ChangeFeed`` reads from this region's database: one row per
/// change, numbered by a sequence, written in the same transaction as the change (a trigger
/// does it best), so a replica has the row exactly when it has the change.
///
/// The users app's log is `user_changes`, filled by a trigger on `users`:
///
/// ```swift
/// struct UserChangeLog: ChangeLog {
///     func newestPosition(on connection: PostgresConnection, logger: Logger) async throws -> Int64 {
///         // SELECT coalesce(max(position), 0) FROM user_changes
///     }
///     func changes(after newest: Int64, orAmong missing: [Int64], limit: Int,
///                  on connection: PostgresConnection, logger: Logger) async throws -> [UserChange] {
///         // SELECT … FROM user_changes WHERE position > $1 OR position = ANY($2) ORDER BY position LIMIT $3
///     }
///     func position(of change: UserChange) -> Int64 { change.position }
/// }
/// ```
public protocol ChangeLog: Sendable {
    /// One change as the feed's subscribers get it (a row of the log, with what it changed).
    associatedtype Change: Sendable

    /// The newest position in the log, or 0 when it is empty: where a starting feed begins.
    ///
    /// - Parameters:
    ///   - connection: A connection to the database the feed reads.
    ///   - logger: The feed's logger, for the query.
    func newestPosition(on connection: PostgresConnection, logger: Logger) async throws -> Int64

    /// The changes after `newest`, and those among `missing` (positions below it that were
    /// not visible yet: their transactions had not committed), by position, at most `limit`.
    ///
    /// - Parameters:
    ///   - newest: The newest position the feed has delivered.
    ///   - missing: Older positions it has not seen yet, usually none.
    ///   - limit: The most rows to return; the feed reads again when it gets that many.
    ///   - connection: A connection to the database the feed reads.
    ///   - logger: The feed's logger, for the query.
    func changes(after newest: Int64, orAmong missing: [Int64], limit: Int, on connection: PostgresConnection, logger: Logger) async throws -> [Change]

    /// A change's position in the log.
    ///
    /// - Parameter change: A change ``changes(after:orAmong:limit:on:logger:)`` returned.
    func position(of change: Change) -> Int64
}
