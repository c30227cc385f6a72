import Configuration
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Logging
import PostgresNIO

import MultiRegion

/// The real primary and streaming replica that `scripts/test` started, described by
/// `TEST_*` environment variables. Tests that need them fail, never skip, without them.
public struct TestCluster: Sendable {
    /// `TEST_DATABASE_URL`: the primary.
    public private(set) var primaryURL: String
    /// `TEST_REPLICA_DATABASE_URL`: the streaming replica.
    public private(set) var replicaURL: String
    /// `TEST_PRIMARY_DATA`: the primary's data folder.
    public let primaryData: String
    /// `TEST_REPLICA_DATA`: the replica's data folder.
    public let replicaData: String
    /// `TEST_PG_CTL`: a `pg_ctl` that runs as the servers' owner.
    public let pgCtl: String
    /// `TEST_PG_LOG_DIR`: where the servers log.
    public let logDirectory: String

    /// Reads the cluster from the environment.
    ///
    /// - Throws: ``MissingCluster`` naming the first variable that is not set.
    public init() throws {
        let environment = ProcessInfo.processInfo.environment
        func value(_ name: String) throws -> String {
            guard let value = environment[name], !value.isEmpty else {
                throw MissingCluster(variable: name)
            }
            return value
        }
        primaryURL = try value("TEST_DATABASE_URL")
        replicaURL = try value("TEST_REPLICA_DATABASE_URL")
        primaryData = try value("TEST_PRIMARY_DATA")
        replicaData = try value("TEST_REPLICA_DATA")
        pgCtl = try value("TEST_PG_CTL")
        logDirectory = try value("TEST_PG_LOG_DIR")
    }

    /// The same servers, with the URLs naming another database (which must exist on the
    /// primary; the replica has every database the primary has).
    ///
    /// - Parameter database: The database's name.
    public func usingDatabase(_ database: String) throws -> TestCluster {
        var copy = self
        var primary = try DatabaseURL(parsing: primaryURL)
        var replica = try DatabaseURL(parsing: replicaURL)
        primary.database = database
        replica.database = database
        copy.primaryURL = Self.text(of: primary)
        copy.replicaURL = Self.text(of: replica)
        return copy
    }

    /// A URL as text, password included (`DatabaseURL.description` hides it).
    private static func text(of url: DatabaseURL) -> String {
        func encoded(_ part: String) -> String { part.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? part }
        let credentials = url.password.map { "\(encoded(url.username)):\(encoded($0))" } ?? encoded(url.username)
        let host = url.host.contains(":") ? "[\(url.host)]" : url.host
        return "postgres://\(credentials)@\(host):\(url.port)/\(encoded(url.database))?sslmode=\(url.sslMode.rawValue)"
    }

    /// The cluster's variables are not set: the tests run outside `scripts/test`.
    public struct MissingCluster: Error, CustomStringConvertible {
        /// The first missing variable.
        public let variable: String
        /// The description, for logs and people.
        public var description: String {
            "\(variable) is not set: database tests need the primary and replica that scripts/test starts. Run scripts/test."
        }
    }

    /// The machinery's environment for an app instance in `region`, against this cluster.
    ///
    /// - Parameters:
    ///   - region: `FLY_REGION`.
    ///   - primaryRegion: `PRIMARY_REGION`.
    ///   - writeMode: `WRITE_MODE`.
    ///   - useReplica: Whether `REPLICA_DATABASE_URL` names the replica (else reads use the primary).
    ///   - extra: More variables, which win over these.
    public func environment(
        region: String = "nrt",
        primaryRegion: String = "nrt",
        writeMode: WriteMode = .direct,
        useReplica: Bool = true,
        extra: [String: String] = [:]
    ) -> [String: String] {
        var environment = [
            "DATABASE_URL": primaryURL,
            "FLY_REGION": region,
            "PRIMARY_REGION": primaryRegion,
            "WRITE_MODE": writeMode.rawValue,
            "READ_YOUR_WRITES_TIMEOUT": "1",
        ]
        if useReplica { environment["REPLICA_DATABASE_URL"] = replicaURL }
        return environment.merging(extra) { $1 }
    }

    /// The machinery's configuration for an instance in `region` (see ``environment(region:primaryRegion:writeMode:useReplica:extra:)``).
    public func configuration(
        region: String = "nrt",
        primaryRegion: String = "nrt",
        writeMode: WriteMode = .direct,
        useReplica: Bool = true,
        extra: [String: String] = [:]
    ) throws -> MultiRegionConfiguration {
        let provider = EnvironmentVariablesProvider(
            environmentVariables: environment(region: region, primaryRegion: primaryRegion, writeMode: writeMode, useReplica: useReplica, extra: extra)
        )
        return try MultiRegionConfiguration(reader: ConfigReader(provider: provider))
    }

    // MARK: - Direct database access for setting up and checking

    /// Runs `body` with a client of the primary (`.primary`) or the replica.
    public func withClient<Result: Sendable>(
        _ role: DatabaseRole,
        _ body: @Sendable (PostgresClient) async throws -> Result
    ) async throws -> Result {
        let url = try DatabaseURL(parsing: role == .primary ? primaryURL : replicaURL)
        let client = PostgresClient(configuration: url.clientConfiguration(connectTimeout: .seconds(3), maximumConnections: 2))
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            return try await body(client)
        }
    }

    /// Applies the migrations in `migrationsDirectory` and empties `tables`, then waits until
    /// the replica has the same state.
    ///
    /// - Parameters:
    ///   - migrationsDirectory: The app's `Migrations/` folder.
    ///   - tables: Tables to truncate (identities restart).
    public func reset(migrationsDirectory: String, truncating tables: [String]) async throws {
        try await withClient(.primary) { client in
            let files = try MigrationFile.load(from: migrationsDirectory)
            try await Migrator(client: client, files: files, logger: Logger(label: "test")).migrate()
            for table in tables {
                try await client.run(PostgresQuery(unsafeSQL: "TRUNCATE \(Self.quoted(table)) RESTART IDENTITY"))
            }
        }
        try await waitForReplicaToCatchUp()
    }

    /// An SQL identifier in double quotes.
    private static func quoted(_ identifier: String) -> String {
        "\"" + identifier.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// Waits until the replica has replayed everything the primary has written.
    public func waitForReplicaToCatchUp(timeout: Duration = .seconds(20)) async throws {
        let target = try await withClient(.primary) { client in
            var lsn = ""
            for try await text in try await client.query("SELECT pg_current_wal_lsn()::text").decode(String.self) { lsn = text }
            return LSN(lsn)!
        }
        try await withClient(.replica) { client in
            let deadline = ContinuousClock.now + timeout
            while ContinuousClock.now < deadline {
                for try await text in try await client.query("SELECT pg_last_wal_replay_lsn()::text").decode(String.self) {
                    if let replayed = LSN(text), replayed >= target { return }
                }
                try await Task.sleep(for: .milliseconds(10))
            }
            throw TestFailure("the replica did not catch up within \(timeout)")
        }
    }

    /// Pauses or resumes WAL replay on the replica, to make lag real and deterministic.
    public func setReplayPaused(_ paused: Bool) async throws {
        try await withClient(.replica) { client in
            if paused {
                try await client.run("SELECT pg_wal_replay_pause()")
            } else {
                try await client.run("SELECT pg_wal_replay_resume()")
            }
        }
    }

    /// Stops or starts one of the servers with pg_ctl, as its owner.
    public func pgCtl(_ action: String, _ role: DatabaseRole) throws {
        let data = role == .primary ? primaryData : replicaData
        var arguments = [action, "-D", data, "-w", "-t", "60"]
        if action == "stop" { arguments += ["-m", "fast"] }
        if action == "start" { arguments += ["-l", "\(logDirectory)/\(role.rawValue).log"] }
        let status = try Self.spawnAndWait(pgCtl, arguments)
        guard status == 0 else {
            throw TestFailure("pg_ctl \(action) \(role.rawValue) exited with \(status)")
        }
    }

    /// Runs a program with its output discarded and returns its exit status.
    ///
    /// Foundation's `Process.waitUntilExit` can miss the exit of a child whose own child
    /// (the daemonised postgres) lives on, so this uses posix_spawn and waitpid.
    private static func spawnAndWait(_ path: String, _ arguments: [String]) throws -> Int32 {
        var fileActions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&fileActions)
        defer { posix_spawn_file_actions_destroy(&fileActions) }
        posix_spawn_file_actions_addopen(&fileActions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&fileActions, 2, "/dev/null", O_WRONLY, 0)
        let argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, path, &fileActions, nil, argv, environ)
        guard spawned == 0 else { throw TestFailure("could not start \(path): error \(spawned)") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 {
            guard errno == EINTR else { throw TestFailure("waitpid failed: \(errno)") }
        }
        return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }
}

/// A test's own failure, with what it saw.
public struct TestFailure: Error, CustomStringConvertible {
    /// What the test saw.
    public let description: String

    /// A failure described by `description`.
    public init(_ description: String) { self.description = description }
}
