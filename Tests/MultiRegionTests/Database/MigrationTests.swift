import Foundation
import Logging
import PostgresNIO
import Testing

@testable import MultiRegion
import MultiRegionTesting

extension DatabaseTests {
    @Suite("Migrations against the real primary and replica", .serialized)
    struct MigrationTests {
        let cluster: TestCluster
        let logger = Logger(label: "migration-test")

        init() throws {
            cluster = try TestCluster()
        }

        /// A fresh database on the primary and a folder of migration files for it.
        private func scratch(_ files: [String: String]) async throws -> (database: String, directory: String) {
            let database = "migrations_\(UInt32.random(in: 0...UInt32.max))"
            try await cluster.withClient(.primary) { client in
                try await client.run(PostgresQuery(unsafeSQL: "CREATE DATABASE \(database)"))
            }
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent(database).path
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            for (name, sql) in files {
                try sql.write(toFile: "\(directory)/\(name)", atomically: true, encoding: .utf8)
            }
            return (database, directory)
        }

        private func withMigrator<Result: Sendable>(
            database: String,
            directory: String,
            on role: DatabaseRole = .primary,
            _ body: @Sendable (Migrator) async throws -> Result
        ) async throws -> Result {
            var url = try DatabaseURL(parsing: role == .primary ? cluster.primaryURL : cluster.replicaURL)
            url.database = database
            let client = PostgresClient(configuration: url.clientConfiguration(connectTimeout: .seconds(3), maximumConnections: 4))
            let migrator = Migrator(client: client, files: try MigrationFile.load(from: directory), logger: logger)
            return try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await client.run() }
                defer { group.cancelAll() }
                return try await body(migrator)
            }
        }

        private static let files = [
            "0001_create_things.sql": """
                -- Things; the semicolon in this comment must not split; nor this one.
                CREATE TABLE things (id int PRIMARY KEY, label text NOT NULL DEFAULT 'a;b');
                CREATE FUNCTION thing_count() RETURNS bigint AS $$ SELECT count(*) FROM things; $$ LANGUAGE sql;
                """,
            "0002_add_thing.sql": "INSERT INTO things (id) VALUES (1);",
        ]

        @Test("Pending files apply once, in order, and a second run applies nothing")
        func appliesOnce() async throws {
            let (database, directory) = try await scratch(Self.files)
            try await withMigrator(database: database, directory: directory) { migrator in
                #expect(try await migrator.status().map(\.state) == [.pending, .pending])
                #expect(try await migrator.migrate() == ["0001_create_things.sql", "0002_add_thing.sql"])
                #expect(try await migrator.migrate() == [])
                #expect(try await migrator.status().map(\.state) == [.applied, .applied])
                let count = try await migrator.client.query("SELECT thing_count()").decode(Int64.self).reduce(0) { $0 + $1 }
                #expect(count == 1)
            }
        }

        @Test("Two concurrent runs wait for each other and apply each file once")
        func concurrentRuns() async throws {
            let (database, directory) = try await scratch(Self.files)
            let applied = try await withThrowingTaskGroup(of: [String].self) { group in
                for _ in 0..<2 {
                    group.addTask { try await withMigrator(database: database, directory: directory) { try await $0.migrate() } }
                }
                return try await group.reduce(into: []) { $0 += $1 }
            }
            #expect(applied.sorted() == ["0001_create_things.sql", "0002_add_thing.sql"])
        }

        @Test("A file changed after it was applied is refused")
        func changedFileIsRefused() async throws {
            let (database, directory) = try await scratch(Self.files)
            try await withMigrator(database: database, directory: directory) { _ = try await $0.migrate() }
            try "INSERT INTO things (id) VALUES (2);".write(toFile: "\(directory)/0002_add_thing.sql", atomically: true, encoding: .utf8)
            try await withMigrator(database: database, directory: directory) { migrator in
                await #expect(throws: MigrationError.changedAfterApply("0002_add_thing.sql")) { try await migrator.migrate() }
                let states = try await migrator.status().map(\.state)
                #expect(states == [.applied, .changed])
            }
        }

        @Test("A failing file is rolled back whole and not recorded")
        func failingFileRollsBack() async throws {
            let (database, directory) = try await scratch([
                "0001_ok.sql": "CREATE TABLE a (x int);",
                "0002_bad.sql": "CREATE TABLE b (x int); INSERT INTO b VALUES (1 / 0);",
            ])
            try await withMigrator(database: database, directory: directory) { migrator in
                await #expect(throws: MigrationError.self) { try await migrator.migrate() }
                let states = try await migrator.status().map(\.state)
                #expect(states == [.applied, .pending])
                let exists = try await migrator.client.query("SELECT to_regclass('b') IS NOT NULL").decode(Bool.self).reduce(false) { $0 || $1 }
                #expect(!exists)
            }
        }

        @Test("The replica is refused: migrations run on the primary only")
        func replicaIsRefused() async throws {
            let (database, directory) = try await scratch(Self.files)
            try await cluster.waitForReplicaToCatchUp()
            _ = try await withMigrator(database: database, directory: directory, on: .replica) { migrator in
                await #expect(throws: MigrationError.readOnlyServer) { try await migrator.migrate() }
            }
        }
    }
}
