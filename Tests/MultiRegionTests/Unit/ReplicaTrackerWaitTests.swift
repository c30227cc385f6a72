import Logging
import NIOPosix
import PostgresNIO
import Testing

@testable import MultiRegion
import MultiRegionTesting

@Suite("Replica tracker waits are bounded without the poller", .timeLimit(.minutes(1)))
struct ReplicaTrackerWaitTests {
    /// A tracker whose poller never runs, as when a poll is stuck: nothing but the waits'
    /// own timers can release them.
    func idleTracker() -> ReplicaTracker {
        let configuration = DatabasePool.Configuration(
            connection: .init(host: "127.0.0.1", port: 1, username: "nobody", password: nil, database: nil, tls: .disable),
            maximumConnections: 1
        )
        let timers = DeadlineTimers(eventLoop: MultiThreadedEventLoopGroup.singleton.next())
        let pool = DatabasePool(
            configuration: configuration, eventLoopGroup: MultiThreadedEventLoopGroup.singleton, timers: timers, logger: Logger(label: "test")
        )
        return ReplicaTracker(
            replica: pool, primary: pool, queryTimeout: .milliseconds(100),
            timers: timers, logger: Logger(label: "test")
        )
    }

    @Test("A read-your-writes wait ends at its timeout even when no poll ever finishes")
    func waitTimesOutWithoutPolls() async throws {
        let tracker = idleTracker()
        let started = ContinuousClock.now
        let outcome = await tracker.waitUntilReplayed(LSN("0/1")!, timeout: .milliseconds(200))
        let elapsed = ContinuousClock.now - started
        guard case .timedOut = outcome else {
            Issue.record("expected a timeout, got \(outcome)")
            return
        }
        #expect(elapsed >= .milliseconds(200))
        #expect(elapsed < .seconds(2))
    }

    @Test("Many waits end on time, and a cancelled one ends at once")
    func manyWaitsAndCancellation() async throws {
        let tracker = idleTracker()
        let started = ContinuousClock.now
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<100 {
                group.addTask { _ = await tracker.waitUntilReplayed(LSN("0/1")!, timeout: .milliseconds(150)) }
            }
        }
        #expect(ContinuousClock.now - started < .seconds(2))

        let waiter = Task { await tracker.waitUntilReplayed(LSN("0/1")!, timeout: .seconds(30)) }
        try await Task.sleep(for: .milliseconds(50))
        let cancelled = ContinuousClock.now
        waiter.cancel()
        _ = await waiter.value
        #expect(ContinuousClock.now - cancelled < .seconds(1))
    }

    @Test("Without a first poll, the first status says unreachable after two query timeouts")
    func firstStatusIsBounded() async {
        let tracker = idleTracker()
        let started = ContinuousClock.now
        let status = await tracker.firstStatus()
        #expect(!status.isReachable)
        #expect(ContinuousClock.now - started < .seconds(2))
    }
}
