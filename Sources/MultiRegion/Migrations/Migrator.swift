public import Logging
public import PostgresNIO

/// Applies the SQL files in `Migrations/` to the primary, once each, in order.
///
/// Each file runs in its own transaction and is recorded with its checksum in
/// `schema_migrations`. A session-level advisory lock makes concurrent runs (two machines
/// deploying at once) wait for each other instead of racing.
public struct Migrator: Sendable {
    /// One row of `migrate --status`.
    public struct Status: Sendable, Equatable {
        /// Whether a file was applied, is still to apply, or changed after it was applied.
        public enum State: String, Sendable { case applied, pending, changed }
        /// The file's name.
        public let name: String
        /// Its state on the primary.
        public let state: State
    }

    /// A client of the primary.
    public let client: PostgresClient
    /// The app's migrations, in order (``MigrationFile/load(from:)``).
    public let files: [MigrationFile]
    /// Where applied migrations are logged.
    public let logger: Logger

    /// A migrator of `files` on the primary behind `client`.
    public init(client: PostgresClient, files: [MigrationFile], logger: Logger) {
        self.client = client
        self.files = files
        self.logger = logger
    }

    /// An arbitrary, fixed key for `pg_advisory_lock`, shared by every instance of the app.
    static let lockKey: Int64 = 7_461_237_118_004_321

    /// Applies every pending migration and returns the names it applied.
    @discardableResult
    public func migrate() async throws -> [String] {
        try await client.withConnection { connection in
            try await refuseReadOnlyServer(connection)
            try await connection.run("SELECT pg_advisory_lock(\(Self.lockKey))", logger: logger)
            do {
                let applied = try await applyPending(connection)
                try await connection.run("SELECT pg_advisory_unlock(\(Self.lockKey))", logger: logger)
                return applied
            } catch {
                try? await connection.run("SELECT pg_advisory_unlock(\(Self.lockKey))", logger: logger)
                throw error
            }
        }
    }

    /// Lists every file as applied, pending or changed, without changing anything.
    public func status() async throws -> [Status] {
        try await client.withConnection { connection in
            let applied = try await appliedChecksums(connection, createTable: false)
            return files.map { file in
                guard let checksum = applied[file.version] else { return Status(name: file.name, state: .pending) }
                return Status(name: file.name, state: checksum == file.checksum ? .applied : .changed)
            }
        }
    }

    private func refuseReadOnlyServer(_ connection: PostgresConnection) async throws {
        let rows = try await connection.query("SELECT pg_is_in_recovery()", logger: logger)
        for try await inRecovery in rows.decode(Bool.self) where inRecovery {
            throw MigrationError.readOnlyServer
        }
    }

    private func applyPending(_ connection: PostgresConnection) async throws -> [String] {
        let applied = try await appliedChecksums(connection, createTable: true)
        for file in files {
            if let checksum = applied[file.version], checksum != file.checksum {
                throw MigrationError.changedAfterApply(file.name)
            }
        }
        var names: [String] = []
        for file in files where applied[file.version] == nil {
            try await apply(file, on: connection)
            logger.info("Applied migration", metadata: ["migration": "\(file.name)"])
            names.append(file.name)
        }
        return names
    }

    private func apply(_ file: MigrationFile, on connection: PostgresConnection) async throws {
        try await connection.run("BEGIN", logger: logger)
        var statementNumber = 0
        do {
            for statement in SQLSplitter.statements(in: file.sql) {
                statementNumber += 1
                try await connection.run(PostgresQuery(unsafeSQL: statement), logger: logger)
            }
            // PostgresNIO's interpolation binds these values as parameters.
            try await connection.run(
                "INSERT INTO schema_migrations (version, name, checksum) VALUES (\(file.version), \(file.name), \(file.checksum))",
                logger: logger
            )
            try await connection.run("COMMIT", logger: logger)
        } catch {
            try? await connection.run("ROLLBACK", logger: logger)
            let message = (error as? PSQLError)?.serverInfo?[.message] ?? "\(error)"
            throw MigrationError.failed(file.name, statement: statementNumber, message: message)
        }
    }

    private func appliedChecksums(_ connection: PostgresConnection, createTable: Bool) async throws -> [Int64: String] {
        if createTable {
            try await connection.run(
                """
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version bigint PRIMARY KEY,
                    name text NOT NULL,
                    checksum text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now()
                )
                """,
                logger: logger
            )
        } else {
            let exists = try await connection.query("SELECT to_regclass('schema_migrations') IS NOT NULL", logger: logger)
            for try await found in exists.decode(Bool.self) where !found { return [:] }
        }
        var checksums: [Int64: String] = [:]
        let rows = try await connection.query("SELECT version, checksum FROM schema_migrations", logger: logger)
        for try await (version, checksum) in rows.decode((Int64, String).self) {
            checksums[version] = checksum
        }
        return checksums
    }
}
