import Configuration
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import NIOPosix
import PostgresNIO
import ServiceLifecycle
import Testing

import HummingbirdMultiRegion
import MultiRegion
import MultiRegionTesting

@testable import App

extension DatabaseTests {
    @Suite("Fly as it is today: a fenced primary, refused connections, failed replays, replay sizes", .serialized, .timeLimit(.minutes(3)))
    struct FlyTodayTests {
        let cluster: TestCluster

        init() async throws {
            cluster = try TestCluster()
            try await cluster.resetUsers()
        }

        /// Runs `body` with the primary fenced as postgres-flex fences it (every database
        /// read-only), and always lifts the fence.
        private func withPrimaryFenced<Value: Sendable>(_ body: () async throws -> Value) async throws -> Value {
            try await setFenced(true)
            do {
                let value = try await body()
                try await setFenced(false)
                return value
            } catch {
                try? await setFenced(false)
                throw error
            }
        }

        private func setFenced(_ fenced: Bool) async throws {
            try await cluster.withClient(.primary) { client in
                try await client.withConnection { connection in
                    try await connection.run("SET default_transaction_read_only = off")
                    try await connection.run(fenced ? "ALTER SYSTEM SET default_transaction_read_only = on" : "ALTER SYSTEM RESET default_transaction_read_only")
                    try await connection.run("SELECT pg_reload_conf()")
                }
            }
            // The reload reaches every backend at its next command; give them a moment.
            try await Task.sleep(for: .milliseconds(200))
        }

        @Test("A write on a fenced primary, in the primary region, gets the 503 page within DATABASE_TIMEOUT; reads go on; writes work again when the fence lifts")
        func fencedPrimaryInPrimaryRegion() async throws {
            try await cluster.withApp(region: "nrt", primaryRegion: "nrt", writeMode: .replay, useReplica: false) { client, _ in
                var jar = CookieJar()
                let id = try await client.createUser(name: "Before the fence", age: 30, jar: &jar)
                try await withPrimaryFenced {
                    let started = ContinuousClock.now
                    let write = try await client.execute(
                        uri: "/users", method: .post, headers: formHeaders(), body: formBody([("name", "Fenced"), ("age", "1")])
                    )
                    let elapsed = ContinuousClock.now - started
                    #expect(write.status == .serviceUnavailable)
                    #expect(write.text.contains("Writes are unavailable"))
                    #expect(write.text.contains("read-only"))
                    #expect(write.headers[FlyReplay.replayHeader] == nil, "never a replay to itself")
                    #expect(elapsed < .seconds(3), "within DATABASE_TIMEOUT (\(elapsed))")
                    let read = try await client.get("/users/\(id)", jar: &jar)
                    #expect(read.status == .ok)
                    #expect(read.text.contains("Before the fence"))
                }
                let after = try await client.execute(
                    uri: "/users", method: .post, headers: formHeaders(), body: formBody([("name", "After the fence"), ("age", "2")])
                )
                #expect(after.status == .seeOther, "writes work again with no restart")
            }
        }

        @Test("A write from ord through the edge, while the primary is fenced, is replayed once to nrt and gets the 503 page; reads in ord go on")
        func fencedPrimaryThroughTheEdge() async throws {
            try await withLocalEdge(regions: ["nrt", "ord"], makeInstance: { region, port in
                try buildApplication(configuration: try cluster.appConfiguration(
                    region: region, primaryRegion: "nrt", writeMode: .replay, useReplica: region != "nrt",
                    extra: ["HOST": "127.0.0.1", "PORT": "\(port)"]
                ))
            }) { edge in
                var jar: [String: String] = [:]
                _ = try await edge.send(.POST, "/users", region: "nrt", jar: &jar, form: "name=Kept&age=9")
                try await cluster.waitForReplicaToCatchUp()
                try await withPrimaryFenced {
                    let started = ContinuousClock.now
                    let write = try await edge.send(.POST, "/users", region: "ord", jar: &jar, form: "name=Lost&age=1")
                    #expect(write.status == .serviceUnavailable)
                    #expect(write.headers.first(name: "served-region") == "nrt", "answered by the primary region, after one replay")
                    #expect(write.body.contains("Writes are unavailable"))
                    #expect(ContinuousClock.now - started < .seconds(4))
                    var stranger: [String: String] = [:]
                    let read = try await edge.send(.GET, "/users", region: "ord", jar: &stranger)
                    #expect(read.status == .ok)
                    #expect(read.body.contains("Kept"))
                }
            }
        }

        @Test("While the primary refuses every new connection (53300), a write gets the 503 page and a read falls back or gets it; never a 500; the refusals are counted")
        func refusedConnections() async throws {
            // Hold every slot of the primary ourselves, so the app's first connection is refused.
            let held = try await holdEveryConnection()
            do {
                try await refusedWhileHeld()
            } catch {
                await Self.close(held)
                throw error
            }
            await Self.close(held)
        }

        private static func close(_ connections: [PostgresConnection]) async {
            for connection in connections { try? await connection.close() }
        }

        private func refusedWhileHeld() async throws {
            try await cluster.withApp(region: "nrt", primaryRegion: "nrt", writeMode: .direct, useReplica: false) { client, dependencies in
                let write = try await client.execute(
                    uri: "/users", method: .post, headers: formHeaders(), body: formBody([("name", "Refused"), ("age", "1")])
                )
                #expect(write.status == .serviceUnavailable)
                #expect(write.text.contains("Writes are unavailable"))
                let read = try await client.execute(uri: "/users", method: .get)
                #expect(read.status == .serviceUnavailable)
                #expect(read.text.contains("Database unavailable"))
                let metrics = dependencies.metrics.registry.emitToString()
                #expect(metrics.contains(#"db_connections_refused_total{role="primary",reason="53300",region="nrt"}"#))
            }
            try await cluster.withApp(region: "ord", primaryRegion: "nrt", writeMode: .direct) { client, _ in
                let read = try await client.execute(uri: "/users", method: .get)
                #expect(read.status == .ok, "the replica still serves ord's reads")
                #expect(read.badgeDatabase == "replica")
                let write = try await client.execute(
                    uri: "/users", method: .post, headers: formHeaders(), body: formBody([("name", "Refused"), ("age", "1")])
                )
                #expect(write.status == .serviceUnavailable)
            }
        }

        /// Opens connections to the primary until it refuses one with 53300, and returns them.
        private func holdEveryConnection() async throws -> [PostgresConnection] {
            let url = try DatabaseURL(parsing: cluster.primaryURL)
            let configuration = PostgresConnection.Configuration(
                host: url.host, port: url.port, username: url.username, password: url.password, database: url.database, tls: .disable
            )
            var held: [PostgresConnection] = []
            for id in 0..<400 {
                do {
                    held.append(try await PostgresConnection.connect(
                        on: MultiThreadedEventLoopGroup.singleton.next(), configuration: configuration, id: 10_000 + id, logger: Logger(label: "hold")
                    ))
                } catch where PostgresErrors.sqlState(of: error) == PostgresErrors.tooManyConnections {
                    return held
                } catch {
                    await Self.close(held)
                    throw error
                }
            }
            await Self.close(held)
            throw TestFailure("the primary never refused a connection")
        }

        @Test("A chunked body over 1,000,000 bytes gets the same 413 page as a declared one, in the primary region and before a replay")
        func chunkedBodyOverTheLimit() async throws {
            let large = ByteBuffer(string: "name=" + String(repeating: "a", count: 1_000_100) + "&age=1")
            for (region, mode) in [("nrt", WriteMode.direct), ("ord", WriteMode.replay)] {
                try await cluster.withApp(region: region, primaryRegion: "nrt", writeMode: mode) { client, _ in
                    // The router test client sends no Content-Length: the body arrives as a stream.
                    let chunked = try await client.execute(uri: "/users", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"], body: large)
                    #expect(chunked.status == .contentTooLarge, "in \(region)")
                    #expect(chunked.text.contains("Too large"))
                    let declared = try await client.execute(
                        uri: "/users", method: .post,
                        headers: [.contentType: "application/x-www-form-urlencoded", .contentLength: "\(large.readableBytes)"], body: large
                    )
                    #expect(declared.status == .contentTooLarge)
                    let small = try await client.execute(uri: "/users", method: .post, headers: formHeaders(), body: formBody([("name", "Small"), ("age", "2")]))
                    #expect(small.status == (mode == .replay ? .conflict : .seeOther))
                }
            }
        }

        @Test("When nrt does not take a replay within its timeout, Fly's fallback gives the write back to ord, which answers its own 503 naming nrt and the wait")
        func replayFallsBackToSelf() async throws {
            try await withLocalEdge(regions: ["nrt", "ord"], makeInstance: { region, port in
                if region == "nrt" { return StalledInstance.application(port: port) }
                return try buildApplication(configuration: try cluster.appConfiguration(
                    region: "ord", primaryRegion: "nrt", writeMode: .replay,
                    extra: ["HOST": "127.0.0.1", "PORT": "\(port)", "REPLAY_TIMEOUT": "0.5"]
                ))
            }) { edge in
                var jar: [String: String] = [:]
                let started = ContinuousClock.now
                let write = try await edge.send(.POST, "/users", region: "ord", jar: &jar, form: "name=Waiting&age=1")
                let elapsed = ContinuousClock.now - started
                #expect(write.status == .serviceUnavailable)
                #expect(write.headers.first(name: "served-region") == "ord", "our page, from the instance that asked for the replay")
                #expect(write.body.contains("Writes are unavailable"))
                #expect(write.body.contains("primary region (nrt) did not take the request within 0."))
                #expect(elapsed < .seconds(3), "within the bound (\(elapsed))")
            }
        }
    }
}

/// An nrt "instance" that says it is ready and then never answers anything else in time:
/// a primary region that cannot take replays.
enum StalledInstance {
    static func application(port: Int) -> some Service {
        let router = Router()
        router.get("readyz") { _, _ in "ready\n" }
        router.on("users", method: .post) { _, _ -> String in
            try await Task.sleep(for: .seconds(10))
            return "too late\n"
        }
        var logger = Logger(label: "stalled")
        logger.logLevel = .critical
        return Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)), logger: logger)
    }
}
