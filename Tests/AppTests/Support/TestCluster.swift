import Configuration
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Hummingbird
import HummingbirdTesting
import Logging
import PostgresNIO
import Testing

@testable import App

/// The real primary and streaming replica that `scripts/test` started, described by
/// `TEST_*` environment variables. Tests that need them fail, never skip, without them.
struct TestCluster: Sendable {
    let primaryURL: String
    let replicaURL: String
    let primaryData: String
    let replicaData: String
    let pgCtl: String
    let logDirectory: String

    init() throws {
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

    struct MissingCluster: Error, CustomStringConvertible {
        let variable: String
        var description: String {
            "\(variable) is not set: database tests need the primary and replica that scripts/test starts. Run scripts/test."
        }
    }

    /// The environment of an app instance in `region`, against this cluster.
    func environment(
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
            "SECRET_KEY_BASE": String(repeating: "test-secret-", count: 4),
            "LOG_LEVEL": "warning",
            // Tests that read the Prometheus endpoint over HTTP pick a free port themselves.
            "METRICS_PORT": "off",
        ]
        if useReplica { environment["REPLICA_DATABASE_URL"] = replicaURL }
        return environment.merging(extra) { $1 }
    }

    func configuration(
        region: String = "nrt",
        primaryRegion: String = "nrt",
        writeMode: WriteMode = .direct,
        useReplica: Bool = true,
        extra: [String: String] = [:]
    ) throws -> AppConfiguration {
        let provider = EnvironmentVariablesProvider(
            environmentVariables: environment(region: region, primaryRegion: primaryRegion, writeMode: writeMode, useReplica: useReplica, extra: extra)
        )
        return try AppConfiguration(reader: ConfigReader(provider: provider))
    }

    // MARK: - Direct database access for setting up and checking

    /// Runs `body` with a client of the primary (`.primary`) or the replica.
    func withClient<Result: Sendable>(
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

    /// Applies the app's migrations and empties the users table, then waits until the replica
    /// has the same state.
    func reset() async throws {
        try await withClient(.primary) { client in
            let files = try MigrationFile.load(from: Self.migrationsDirectory)
            try await Migrator(client: client, files: files, logger: Logger(label: "test")).migrate()
            try await client.run("TRUNCATE users RESTART IDENTITY")
        }
        try await waitForReplicaToCatchUp()
    }

    /// Waits until the replica has replayed everything the primary has written.
    func waitForReplicaToCatchUp(timeout: Duration = .seconds(20)) async throws {
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
    func setReplayPaused(_ paused: Bool) async throws {
        try await withClient(.replica) { client in
            if paused {
                try await client.run("SELECT pg_wal_replay_pause()")
            } else {
                try await client.run("SELECT pg_wal_replay_resume()")
            }
        }
    }

    /// Stops or starts one of the servers with pg_ctl, as its owner.
    func pgCtl(_ action: String, _ role: DatabaseRole) throws {
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

    static var migrationsDirectory: String {
        // Tests/AppTests/Support/TestCluster.swift → the package root.
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Migrations").path
    }

    static var publicDirectory: String {
        URL(fileURLWithPath: migrationsDirectory).deletingLastPathComponent().appendingPathComponent("Public").path
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
