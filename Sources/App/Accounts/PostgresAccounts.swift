import Logging
import MultiRegion
import PostgresNIO

/// `Accounts` on Postgres, through the request's `DatabaseSession`: reads with prepared
/// statements, writes with `RETURNING`.
struct PostgresAccounts: Accounts {
    static let pageSize = 20

    let logger: Logger

    func listUsers(_ page: PageRequest, on database: DatabaseSession) async throws -> UserPage {
        let logger = self.logger
        let limit = Int64(Self.pageSize + 1)
        var users = try await database.read { connection in
            switch page {
            case .first:
                try await Self.users(from: connection.execute(UserStatements.Newest(limit: limit), logger: logger))
            case .olderThan(let id):
                try await Self.users(from: connection.execute(UserStatements.OlderThan(id: id, limit: limit), logger: logger))
            case .newerThan(let id):
                try await Self.users(from: connection.execute(UserStatements.NewerThan(id: id, limit: limit), logger: logger))
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

    func user(id: Int64, on database: DatabaseSession) async throws -> User? {
        let logger = self.logger
        return try await database.read { connection in
            try await Self.users(from: connection.execute(UserStatements.ByID(id: id), logger: logger)).first
        }
    }

    func createUser(_ changes: UserChanges, on database: DatabaseSession) async throws -> User {
        // PostgresNIO's interpolation binds every value as a parameter.
        let user = try await write(
            """
            INSERT INTO users (name, age) VALUES (\(changes.name), \(changes.age))
            RETURNING id, name, age, inserted_at, updated_at, lock_version
            """,
            on: database
        )
        guard let user else { throw PostgresAccountsError.noRowReturned }
        return user
    }

    func updateUser(id: Int64, with changes: UserChanges, ifVersionIn versions: [Int]?, on database: DatabaseSession) async throws -> VersionedWrite {
        let versions = versions.map { $0.map(Int32.init(clamping:)) }
        return try await versioned(id: id, versions: versions, on: database) {
            """
            UPDATE users SET name = \(changes.name), age = \(changes.age), updated_at = now(), lock_version = lock_version + 1
            WHERE id = \(id) AND (\(versions)::int[] IS NULL OR lock_version = ANY(\(versions)::int[]))
            RETURNING id, name, age, inserted_at, updated_at, lock_version
            """
        }
    }

    func deleteUser(id: Int64, ifVersionIn versions: [Int]?, on database: DatabaseSession) async throws -> VersionedWrite {
        let versions = versions.map { $0.map(Int32.init(clamping:)) }
        return try await versioned(id: id, versions: versions, on: database) {
            """
            DELETE FROM users WHERE id = \(id) AND (\(versions)::int[] IS NULL OR lock_version = ANY(\(versions)::int[]))
            RETURNING id, name, age, inserted_at, updated_at, lock_version
            """
        }
    }

    /// Runs a write that only applies at one of `versions`; when it touched no row, asks the
    /// primary whether the user is gone or was changed since.
    private func versioned(id: Int64, versions: [Int32]?, on database: DatabaseSession, _ query: () -> PostgresQuery) async throws -> VersionedWrite {
        if let user = try await write(query(), on: database) { return .written(user) }
        let logger = self.logger
        guard versions != nil,
            let current = try await database.readPrimary({ connection in
                try await Self.users(from: connection.execute(UserStatements.ByID(id: id), logger: logger)).first
            })
        else { return .notFound }
        return .conflict(current: current)
    }

    /// Runs one writing statement on the primary (the session records the WAL position after
    /// it); uses `RETURNING`, so no read follows a write in the same request.
    private func write(_ query: PostgresQuery, on database: DatabaseSession) async throws -> User? {
        let logger = self.logger
        do {
            return try await database.write { connection in
                try await Self.users(from: connection.query(query, logger: logger)).first
            }
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == PostgresErrors.checkViolation {
            // The table repeats the validation rules; should they ever disagree, the person
            // still gets a message on the field rather than an error page.
            throw Self.validationErrors(constraint: error.serverInfo?[.constraintName])
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
