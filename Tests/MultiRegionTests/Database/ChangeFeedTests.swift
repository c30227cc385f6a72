import Logging
import MetricsTestKit
import NIOPosix
import PostgresNIO
import ServiceLifecycle
import Synchronization
import Testing

import MultiRegion
import MultiRegionTesting

/// A change log of its own: every row of `feed_entries` is a change.
struct EntryLog: ChangeLog {
    struct Entry: Sendable, Equatable {
        let position: Int64
        let body: String
    }

    func newestPosition(on connection: PostgresConnection, logger: Logger) async throws -> Int64 {
        var newest: Int64 = 0
        for try await value in try await connection.query("SELECT coalesce(max(position), 0) FROM feed_entries", logger: logger).decode(Int64.self) {
            newest = value
        }
        return newest
    }

    func changes(after newest: Int64, orAmong missing: [Int64], limit: Int, on connection: PostgresConnection, logger: Logger) async throws -> [Entry] {
        var entries: [Entry] = []
        let rows = try await connection.query(
            "SELECT position, body FROM feed_entries WHERE position > \(newest) OR position = ANY(\(missing)) ORDER BY position LIMIT \(Int64(limit))",
            logger: logger
        )
        for try await (position, body) in rows.decode((Int64, String).self) { entries.append(Entry(position: position, body: body)) }
        return entries
    }

    func position(of change: Entry) -> Int64 { change.position }
}

/// Everything a subscription yielded so far, gathered in the background.
final class Collected: Sendable {
    private final class Events: Sendable {
        let state = Mutex<(events: [ChangeFeedEvent<EntryLog.Entry>], ended: Bool)>(([], false))
    }

    private let box = Events()
    private let task: Task<Void, Never>

    init(_ subscription: ChangeSubscription<EntryLog.Entry>) {
        let box = self.box
        task = Task {
            for await event in subscription { box.state.withLock { $0.events.append(event) } }
            box.state.withLock { $0.ended = true }
        }
    }

    deinit { task.cancel() }

    private var events: [ChangeFeedEvent<EntryLog.Entry>] { box.state.withLock { $0.events } }

    var batches: [ChangeBatch<EntryLog.Entry>] {
        events.compactMap { if case .changes(let batch) = $0 { batch } else { nil } }
    }

    var bodies: [String] { batches.flatMap { $0.changes.map(\.body) } }

    var reloaded: Bool { events.contains { if case .reload = $0 { true } else { false } } }

    var hasEnded: Bool { box.state.withLock { $0.ended } }

    /// Waits until `condition` holds, at most `timeout`; whether it held.
    func wait(atMost timeout: Duration = .seconds(5), until condition: () -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return condition()
    }
}

extension DatabaseTests {
    @Suite("The change feed against the real primary and replica", .serialized, .timeLimit(.minutes(2)))
    struct ChangeFeedTests {
        let cluster: TestCluster

        init() async throws {
            cluster = try TestCluster()
            try await cluster.withClient(.primary) { client in
                try await client.run("CREATE TABLE IF NOT EXISTS feed_entries (position bigserial PRIMARY KEY, body text NOT NULL)")
                try await client.run("TRUNCATE feed_entries RESTART IDENTITY")
            }
            try await cluster.setReplayPaused(false)
            try await cluster.waitForReplicaToCatchUp()
        }

        /// A running database (reading the replica, in ord) and a feed of `feed_entries`, for
        /// the length of `body`.
        func withFeed(
            _ configure: (inout ChangeFeed<EntryLog>.Configuration) -> Void = { _ in },
            metrics: TestMetrics = TestMetrics(),
            _ body: @Sendable (ChangeFeed<EntryLog>) async throws -> Void
        ) async throws {
            let database = try MultiRegionDatabase(
                configuration: try cluster.configuration(region: "ord"), logger: Logger(label: "test"), metricsFactory: metrics
            )
            var configuration = ChangeFeed<EntryLog>.Configuration()
            configure(&configuration)
            let feed = ChangeFeed(name: "entries", log: EntryLog(), database: database, configuration: configuration)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await database.run() }
                group.addTask { try await feed.run() }
                defer { group.cancelAll() }
                let deadline = ContinuousClock.now + .seconds(10)
                while feed.position == nil, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
                try #require(feed.position != nil, "the feed did not start")
                try await body(feed)
            }
        }

        func insert(_ bodies: String...) async throws {
            try await cluster.withClient(.primary) { client in
                for body in bodies { try await client.run("INSERT INTO feed_entries (body) VALUES (\(body))") }
            }
        }

        @Test("A change reaches subscribers once the replica has replayed it, and not before")
        func deliveredAfterReplay() async throws {
            try await withFeed { feed in
                let collected = Collected(try feed.subscribe(after: nil))
                try await cluster.setReplayPaused(true)
                do {
                    try await insert("while paused")
                    // The primary has it; the replica does not replay: nothing may arrive.
                    try await Task.sleep(for: .milliseconds(800))
                    #expect(collected.bodies.isEmpty)
                    try await cluster.setReplayPaused(false)
                } catch {
                    try? await cluster.setReplayPaused(false)
                    throw error
                }
                #expect(await collected.wait { collected.bodies == ["while paused"] })
                #expect(feed.source == .replica)
            }
        }

        @Test("A subscriber that comes back with the position it last saw gets what it missed, once, in one batch however many it spans")
        func resumesFromPosition() async throws {
            // A buffer of one batch: what it missed spans more, and must still fit.
            try await withFeed({ $0.bufferedBatches = 1 }) { feed in
                let first = Collected(try feed.subscribe(after: nil))
                try await insert("a")
                #expect(await first.wait { first.bodies == ["a"] })
                let seen = try #require(first.batches.last?.position)

                // Gone; meanwhile two more changes; a subscriber that stayed sees them arrive.
                let watcher = Collected(try feed.subscribe(after: nil))
                try await insert("b")
                #expect(await watcher.wait { watcher.bodies == ["b"] })
                try await insert("c")
                #expect(await watcher.wait { watcher.bodies == ["b", "c"] })
                #expect(watcher.batches.count == 2)

                let resumed = Collected(try feed.subscribe(after: seen))
                #expect(await resumed.wait { resumed.bodies == ["b", "c"] })
                try await Task.sleep(for: .milliseconds(200))
                #expect(resumed.bodies == ["b", "c"])
                #expect(resumed.batches.count == 1)
                #expect(resumed.batches.first?.position == watcher.batches.last?.position)
                #expect(!resumed.reloaded)
            }
        }

        @Test("A subscriber from further back than the feed holds is told to reload, and the subscription ends")
        func tooFarBackReloads() async throws {
            try await withFeed { feed in
                let collected = Collected(try feed.subscribe(after: LSN(1)))
                #expect(await collected.wait { collected.hasEnded })
                #expect(collected.reloaded)
                #expect(collected.bodies.isEmpty)
            }
        }

        @Test("Past the subscriber limit the feed refuses, and takes one again when a subscriber leaves")
        func subscriberLimit() async throws {
            try await withFeed({ $0.maximumSubscribers = 2 }) { feed in
                let first = try feed.subscribe(after: nil)
                let second = try feed.subscribe(after: nil)
                #expect(throws: ChangeFeedError.tooManySubscribers(limit: 2)) { _ = try feed.subscribe(after: nil) }
                first.cancel()
                let collected = Collected(second)
                #expect(feed.subscriberCount == 1)
                _ = try feed.subscribe(after: nil)
                #expect(feed.subscriberCount == 2)
                _ = collected
            }
        }

        @Test("Transactions that commit out of order are each delivered once (a position seen later is not skipped)")
        func outOfOrderCommits() async throws {
            try await withFeed({ $0.gapTimeout = .seconds(30) }) { feed in
                let collected = Collected(try feed.subscribe(after: nil))
                try await cluster.withClient(.primary) { client in
                    try await client.withConnection { slow in
                        try await slow.run("BEGIN")
                        try await slow.run("INSERT INTO feed_entries (body) VALUES ('slow')")  // takes the lower position
                        try await insert("fast")  // commits first, with the higher one
                        #expect(await collected.wait { collected.bodies == ["fast"] })
                        try await slow.run("COMMIT")
                    }
                }
                #expect(await collected.wait { collected.bodies == ["fast", "slow"] })
                try await insert("after")
                #expect(await collected.wait { collected.bodies == ["fast", "slow", "after"] })
            }
        }

        @Test("The log is read once per advance of the replica, whatever the number of subscribers")
        func oneReadPerAdvance() async throws {
            let metrics = TestMetrics()
            try await withFeed(metrics: metrics) { feed in
                let subscribers = try (0..<200).map { _ in Collected(try feed.subscribe(after: nil)) }
                for index in 0..<5 {
                    try await insert("entry \(index)")
                    try await Task.sleep(for: .milliseconds(50))
                }
                for subscriber in subscribers {
                    #expect(await subscriber.wait { subscriber.bodies.count == 5 })
                }
                let advances = try metrics.expectCounter("change_feed_advances_total", [("feed", "entries"), ("region", "ord")]).totalValue
                let reads = try metrics.expectCounter("change_feed_reads_total", [("feed", "entries"), ("outcome", "ok"), ("region", "ord")]).totalValue
                #expect(advances >= 1)
                #expect(reads == advances)
            }
        }
    }
}
