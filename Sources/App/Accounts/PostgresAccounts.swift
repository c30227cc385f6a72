import Logging
import NIOCore
import PostgresNIO

/// `Accounts` on Postgres: reads on the pool the request chose (prepared statements), writes
/// on the primary.
///
/// Writes use `RETURNING`, so no read follows a write in the same request, and report the
/// primary's WAL position after commit for read-your-writes.
struct PostgresAccounts: Accounts {
    static let pageSize = 20

    let databases: Databases
    /// Upper bound for one database call, lease included.
    let timeout: Duration
    /// Where the timeouts' timers run.
    let timers: DeadlineTimers
    let metrics: AppMetrics
    let logger: Logger

    func listUsers(_ page: PageRequest, readingFrom role: DatabaseRole) async throws -> UserPage {
        let pool = databases.pool(for: role)
        let logger = self.logger
        let limit = Int64(Self.pageSize + 1)
        var users = try await measured(databases.server(for: role)) {
            try await pool.withConnection { connection in
                switch page {
                case .first:
                    try await Self.users(from: connection.execute(UserStatements.Newest(limit: limit), logger: logger))
                case .olderThan(let id):
                    try await Self.users(from: connection.execute(UserStatements.OlderThan(id: id, limit: limit), logger: logger))
                case .newerThan(let id):
                    try await Self.users(from: connection.execute(UserStatements.NewerThan(id: id, limit: limit), logger: logger))
                }
            }
        }
        let hasMore = users.count > Self.pageSize
        if hasMore { users.removeLast() }
        switch page {
        case .first:
            return UserPage(users: users, olderThanCursor: hasMore ? users.last?.id : nil, newerThanCursor: nil)
        case .olderThan(let id):
            return UserPage(users: users, olderThanCursor: hasMore ? users.last?.id : nil, newerThanCursor: users.first?.id ?? id)
        case .newerThan(let id):
            users.reverse()
            return UserPage(users: users, olderThanCursor: users.last?.id ?? id, newerThanCursor: hasMore ? users.first?.id : nil)
        }
    }

    func user(id: Int64, readingFrom role: DatabaseRole) async throws -> User? {
        let pool = databases.pool(for: role)
        let logger = self.logger
        return try await measured(databases.server(for: role)) {
            try await pool.withConnection { connection in
                try await Self.users(from: connection.execute(UserStatements.ByID(id: id), logger: logger)).first
            }
        }
    }

    func createUser(_ changes: UserChanges) async throws -> Written<User> {
        let written = try await write(
            """
            INSERT INTO users (name, age) VALUES (\(changes.name), \(changes.age))
            RETURNING id, name, age, inserted_at, updated_at, lock_version
            """
        )
        guard let user = written.value else { throw PostgresAccountsError.noRowReturned }
        return Written(value: user, lsn: written.lsn)
    }

    func updateUser(id: Int64, with changes: UserChanges, ifVersionIn versions: [Int]?) async throws -> VersionedWrite {
        let versions = versions.map { $0.map(Int32.init(clamping:)) }
        return try await versioned(id: id, versions: versions) {
            """
            UPDATE users SET name = \(changes.name), age = \(changes.age), updated_at = now(), lock_version = lock_version + 1
            WHERE id = \(id) AND (\(versions)::int[] IS NULL OR lock_version = ANY(\(versions)::int[]))
            RETURNING id, name, age, inserted_at, updated_at, lock_version
            """
        }
    }

    func deleteUser(id: Int64, ifVersionIn versions: [Int]?) async throws -> VersionedWrite {
        let versions = versions.map { $0.map(Int32.init(clamping:)) }
        return try await versioned(id: id, versions: versions) {
            """
            DELETE FROM users WHERE id = \(id) AND (\(versions)::int[] IS NULL OR lock_version = ANY(\(versions)::int[]))
            RETURNING id, name, age, inserted_at, updated_at, lock_version
            """
        }
    }

    /// Runs a write that only applies at one of `versions`; when it touched no row, asks the
    /// primary whether the user is gone or was changed since.
    private func versioned(id: Int64, versions: [Int32]?, _ query: () -> PostgresQuery) async throws -> VersionedWrite {
        let written = try await write(query())
        if let user = written.value { return .written(Written(value: user, lsn: written.lsn)) }
        guard versions != nil, let current = try await user(id: id, readingFrom: .primary) else { return .notFound }
        return .conflict(current: current)
    }

    /// Runs one writing statement on the primary, then reads the WAL position on the same
    /// connection.
    ///
    /// `pg_current_wal_lsn()` is read after the statement's implicit commit returned: with
    /// `synchronous_commit` on (the default), the commit record is flushed by then, so the
    /// write position is at or past it. Unlike the insert position, it never names WAL that
    /// has not been written yet, or a page-header offset that a replica would only report
    /// after more WAL arrives, so a waiting reader is released as soon as possible.
    private func write(_ query: PostgresQuery) async throws -> Written<User?> {
        let primary = databases.primary
        let logger = self.logger
        do {
            return try await measured(.primary) {
                try await primary.withConnection { connection in
                    let user = try await Self.users(from: connection.query(query, logger: logger)).first
                    var lsn: LSN?
                    let rows = try await connection.query("SELECT pg_current_wal_lsn()::text", logger: logger)
                    for try await text in rows.decode(String.self) { lsn = LSN(text) }
                    return Written(value: user, lsn: lsn)
                }
            }
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == PostgresErrors.checkViolation {
            // The table repeats the validation rules; should they ever disagree, the person
            // still gets a message on the field rather than an error page.
            throw Self.validationErrors(constraint: error.serverInfo?[.constraintName])
        }
    }

    /// Runs one database call of a request within the timeout, and records it: its duration
    /// and outcome, and that it holds (or waits for) a connection meanwhile.
    private func measured<Result: Sendable>(_ role: DatabaseRole, _ call: @escaping @Sendable () async throws -> Result) async throws -> Result {
        let started = ContinuousClock.now
        metrics.databaseCallsInFlight(role: role, change: 1)
        defer { metrics.databaseCallsInFlight(role: role, change: -1) }
        do {
            let result = try await withDatabaseTimeout(timeout, timers: timers, call)
            metrics.queryFinished(role: role, outcome: .ok, after: .now - started)
            return result
        } catch {
            metrics.queryFinished(role: role, outcome: .init(error), after: .now - started)
            throw error
        }
    }

    /// The message for a CHECK constraint of the users table that refused a value.
    static func validationErrors(constraint: String?) -> ValidationErrors {
        switch constraint {
        case .some(let name) where name.hasPrefix("users_age"):
            ValidationErrors(messages: ["age": "must be between \(UserParams.ages.lowerBound) and \(UserParams.ages.upperBound)"])
        default:
            ValidationErrors(messages: ["name": "is not valid"])
        }
    }

    /// The users of a statement's rows, decoded as they arrive.
    private static func users(from rows: some AsyncSequence<User, any Error>) async throws -> [User] {
        var users: [User] = []
        for try await user in rows { users.append(user) }
        return users
    }

    private static func users(from rows: PostgresRowSequence) async throws -> [User] {
        try await users(from: rows.map { try UserStatements.user(from: $0) })
    }
}

/// A write that should have returned a row did not.
enum PostgresAccountsError: Error {
    case noRowReturned
}
