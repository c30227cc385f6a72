import Logging
import NIOPosix
import PostgresNIO
import Synchronization
import Testing

@testable import MultiRegion
import MultiRegionTesting

extension DatabaseTests {
    @Suite("The connection pool against the real primary", .serialized, .timeLimit(.minutes(1)))
    struct DatabasePoolTests {
        let cluster: TestCluster

        init() async throws {
            cluster = try TestCluster()
        }

        /// A pool of the test primary, running as a service would, for the length of `body`.
        func withPool<Result: Sendable>(
            maximum: Int,
            idleTimeout: Duration = .seconds(10),
            connectTimeout: Duration = .seconds(2),
            maximumLifetime: Duration = .seconds(600),
            url: String? = nil,
            _ body: @Sendable (DatabasePool) async throws -> Result
        ) async throws -> Result {
            var configuration = try DatabaseURL(parsing: url ?? cluster.primaryURL)
                .poolConfiguration(maximumConnections: maximum, connectTimeout: connectTimeout)
            configuration.idleTimeout = idleTimeout
            configuration.maximumLifetime = maximumLifetime
            let group = MultiThreadedEventLoopGroup.singleton
            let pool = DatabasePool(
                configuration: configuration, eventLoopGroup: group, timers: DeadlineTimers(eventLoop: group.next()), logger: Logger(label: "test")
            )
            return try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await pool.run() }
                defer { group.cancelAll() }
                return try await body(pool)
            }
        }

        /// The server's own count of the sessions whose current or last query carried `tag`.
        func backends(running tag: String) async throws -> Int {
            try await cluster.withClient(.primary) { client in
                var count = 0
                let rows = try await client.query("SELECT count(*)::int FROM pg_stat_activity WHERE query LIKE \("%" + tag + "%") AND pid <> pg_backend_pid()")
                for try await value in rows.decode(Int.self) { count = value }
                return count
            }
        }

        @Test("Many concurrent leases share at most the maximum number of connections, first come first served")
        func concurrencyIsBounded() async throws {
            let tag = "pool_bound_\(UInt32.random(in: 0...UInt32.max))"
            try await withPool(maximum: 3) { pool in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for _ in 0..<40 {
                        group.addTask {
                            try await pool.withConnection { connection in
                                try await connection.run("SELECT pg_sleep(0.02), '\(unescaped: tag)'")
                            }
                        }
                    }
                    try await group.waitForAll()
                }
                #expect(pool.openConnections <= 3)
                #expect(try await backends(running: tag) <= 3)
            }
        }

        @Test("A server that refuses connections fails a lease at once, not at the timeout")
        func downServerFailsFast() async throws {
            try await withPool(maximum: 2, url: "postgres://nobody@127.0.0.1:1/none?sslmode=disable") { pool in
                let started = ContinuousClock.now
                await #expect(throws: (any Error).self) {
                    try await pool.withConnection { try await $0.run("SELECT 1") }
                }
                #expect(ContinuousClock.now - started < .seconds(1))
                #expect(pool.openConnections == 0)
            }
        }

        @Test("A server that accepts but never answers fails the lease at the connect timeout, and frees the place")
        func stalledServerTimesOut() async throws {
            let listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .childChannelInitializer { $0.eventLoop.makeSucceededVoidFuture() }
                .bind(host: "127.0.0.1", port: 0)
                .get()
            defer { listener.close(promise: nil) }
            let port = try #require(listener.localAddress?.port)
            try await withPool(maximum: 1, connectTimeout: .milliseconds(300), url: "postgres://nobody@127.0.0.1:\(port)/none?sslmode=disable") { pool in
                let started = ContinuousClock.now
                await #expect(throws: DatabaseTimeout.self) {
                    try await pool.withConnection { try await $0.run("SELECT 1") }
                }
                #expect(ContinuousClock.now - started < .seconds(2))
                #expect(pool.openConnections == 0)
            }
        }

        @Test("A connection the server closes gives its place back, and the next lease gets a working one")
        func terminatedConnectionIsReplaced() async throws {
            try await withPool(maximum: 1) { pool in
                let pid = try await pool.withConnection { connection in
                    var pid = 0
                    for try await value in try await connection.query("SELECT pg_backend_pid()", logger: Logger(label: "test")).decode(Int.self) { pid = value }
                    return pid
                }
                try await cluster.withClient(.primary) { try await $0.run("SELECT pg_terminate_backend(\(Int32(pid)))") }
                // Once the close is seen, the only slot is free again.
                let deadline = ContinuousClock.now + .seconds(5)
                while pool.openConnections > 0, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
                #expect(pool.openConnections == 0)
                let newPID = try await pool.withConnection { connection in
                    var pid = 0
                    for try await value in try await connection.query("SELECT pg_backend_pid()", logger: Logger(label: "test")).decode(Int.self) { pid = value }
                    return pid
                }
                #expect(newPID != pid)
            }
        }

        @Test("Connections beyond the minimum close once idle for the idle timeout; one stays")
        func idleConnectionsClose() async throws {
            try await withPool(maximum: 4, idleTimeout: .milliseconds(200)) { pool in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for _ in 0..<4 {
                        group.addTask { try await pool.withConnection { try await $0.run("SELECT pg_sleep(0.1)") } }
                    }
                    try await group.waitForAll()
                }
                #expect(pool.openConnections == 4)
                pool.maintain(now: .now + .seconds(1))
                let deadline = ContinuousClock.now + .seconds(5)
                while pool.openConnections > 1, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
                #expect(pool.openConnections == 1)
            }
        }

        @Test("A connection past its maximum lifetime is retired between leases, never under one, and the next lease gets a new one")
        func retiresByLifetime() async throws {
            try await withPool(maximum: 2, maximumLifetime: .milliseconds(400)) { pool in
                let pid: @Sendable (PostgresConnection) async throws -> Int32 = { connection in
                    var pid: Int32 = 0
                    for try await value in try await connection.query("SELECT pg_backend_pid()", logger: Logger(label: "test")).decode(Int32.self) { pid = value }
                    return pid
                }
                let first = try await pool.withConnection(pid)
                // A lease that outlives the lifetime keeps its connection to the end.
                let (during, after) = try await pool.withConnection { connection in
                    let during = try await pid(connection)
                    try await Task.sleep(for: .milliseconds(500))
                    return (during, try await pid(connection))
                }
                #expect(during == first && after == first, "never retired under a lease")
                #expect(pool.retiredConnections >= 1, "retired when it came back")
                let next = try await pool.withConnection(pid)
                #expect(next != first, "the next lease gets a new connection")
                // An idle one past its lifetime is closed by maintenance too.
                try await Task.sleep(for: .milliseconds(500))
                pool.maintain()
                #expect(pool.retiredConnections >= 2)
            }
        }

        @Test("After the pool closes, waiting and new leases fail, and every connection is closed")
        func closeEndsEverything() async throws {
            try await withPool(maximum: 1) { pool in
                let held = Mutex<CheckedContinuation<Void, Never>?>(nil)
                async let holder: Void = pool.withConnection { _ in
                    await withCheckedContinuation { continuation in held.withLock { $0 = continuation } }
                }
                while held.withLock({ $0 == nil }) { try await Task.sleep(for: .milliseconds(5)) }
                let waiter = Task { try await pool.withConnection { _ in } }
                try await Task.sleep(for: .milliseconds(50))
                async let closing: Void = pool.close()
                await #expect(throws: DatabasePool.Closed.self) { try await waiter.value }
                held.withLock { $0?.resume() }
                try await holder
                await closing
                #expect(pool.openConnections == 0)
                await #expect(throws: DatabasePool.Closed.self) { try await pool.withConnection { _ in } }
            }
        }
    }
}
