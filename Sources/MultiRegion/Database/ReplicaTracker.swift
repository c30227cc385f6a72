import Logging
import NIOCore
import PostgresNIO
public import ServiceLifecycle
import Synchronization

/// Watches the replica's replay position, recovery state and lag, one poller per process,
/// and wakes the requests that wait for the replica to catch up with their own writes.
///
/// Requests never poll the database themselves: a waiting request registers its LSN and the
/// tracker polls quickly while anyone waits, slowly while nobody does. Every wait has a timer
/// of its own, so a waiter is released on time even if a poll is slow or the poller stopped.
///
/// The replica is polled through a pool of its own (one connection), so polls never queue
/// behind requests for a pooled connection and a replica that is down is noticed at once.
public final class ReplicaTracker: Service, Sendable {
    /// How a wait for replication ended.
    public enum WaitOutcome: Sendable, Equatable {
        /// The replica had already replayed the position: no wait at all.
        case alreadyReplayed
        /// The replica caught up after waiting this long.
        case caughtUp(after: Duration)
        /// The replica did not catch up in time (or is down).
        case timedOut(after: Duration)
    }

    private struct Waiter {
        let lsn: LSN
        let deadline: ContinuousClock.Instant
        let started: ContinuousClock.Instant
        let continuation: CheckedContinuation<WaitOutcome, Never>
        /// How often the replica is polled while this waiter waits (`nil`: no sooner than idle).
        let pollInterval: Duration?
        /// Releases the waiter at its deadline whatever the poller does.
        var timer: DeadlineTimers.Timer?
    }

    private struct State {
        var status: ReplicaStatus?
        /// The primary's WAL position, polled on its own schedule (it may be far away).
        var primaryLSN: LSN?
        var waiters: [Int: Waiter] = [:]
        var nextWaiterID = 0
        /// The pause the poller is sleeping now; a waiter that needs a shorter one wakes it.
        var pollPause: Duration = .zero
    }

    private let replica: DatabasePool
    private let primary: DatabasePool
    private let idleInterval: Duration
    private let busyInterval: Duration
    private let primaryInterval: Duration
    private let queryTimeout: Duration
    private let primaryQueryTimeout: Duration
    private let timers: DeadlineTimers
    private let metrics: MultiRegionMetrics?
    private let logger: Logger
    private let state = Mutex(State())
    private let shutDown = ShutdownSignal()
    private let wakeUps: AsyncStream<Void>
    private let wake: AsyncStream<Void>.Continuation

    init(
        replica: DatabasePool,
        primary: DatabasePool,
        idleInterval: Duration = .milliseconds(500),
        busyInterval: Duration = .milliseconds(5),
        primaryInterval: Duration = .seconds(1),
        queryTimeout: Duration = .seconds(1),
        primaryQueryTimeout: Duration = .seconds(3),
        timers: DeadlineTimers,
        metrics: MultiRegionMetrics? = nil,
        logger: Logger
    ) {
        self.replica = replica
        self.primary = primary
        self.idleInterval = idleInterval
        self.busyInterval = busyInterval
        self.primaryInterval = primaryInterval
        self.queryTimeout = queryTimeout
        self.primaryQueryTimeout = primaryQueryTimeout
        self.timers = timers
        self.metrics = metrics
        self.logger = logger
        (self.wakeUps, self.wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// The most recent status, or `nil` before the first poll finished.
    public var status: ReplicaStatus? {
        state.withLock { $0.status }
    }

    /// Waits until the first poll has finished, so the badge never guesses; a replica that has
    /// not answered within two query timeouts counts as unreachable.
    public func firstStatus() async -> ReplicaStatus {
        let deadline = ContinuousClock.now + queryTimeout * 2
        while ContinuousClock.now < deadline, !Task.isCancelled {
            if let status { return status }
            wake.yield()
            try? await Task.sleep(for: .milliseconds(5))
        }
        return status ?? ReplicaStatus(isReachable: false, isInRecovery: false)
    }

    /// Asks for a poll now rather than at the next idle tick (a read just failed on the replica).
    public func pollSoon() {
        wake.yield()
    }

    /// Waits until the replica has replayed `lsn`, at most `timeout`.
    public func waitUntilReplayed(_ lsn: LSN, timeout: Duration) async -> WaitOutcome {
        await waitUntilReplayed(lsn, timeout: timeout, pollingEvery: busyInterval, pollNow: true)
    }

    /// Waits until the replica's replay position moves past `lsn` (or has one at all, for
    /// `nil`), at most `timeout`, polling every `interval` meanwhile (`nil`: at the idle pace);
    /// returns the position then, or `nil` if it did not move in time. For a watcher of the
    /// replica (a change feed), which need not hurry the poller the way a waiting request does.
    package func waitForReplay(after lsn: LSN?, timeout: Duration, pollingEvery interval: Duration?) async -> LSN? {
        let target = lsn.map { LSN($0.value + 1) } ?? LSN(0)
        _ = await waitUntilReplayed(target, timeout: timeout, pollingEvery: interval, pollNow: false)
        guard let status, status.isReachable, let replayed = status.replayLSN, replayed >= target else { return nil }
        return replayed
    }

    private func waitUntilReplayed(_ lsn: LSN, timeout: Duration, pollingEvery interval: Duration?, pollNow: Bool) async -> WaitOutcome {
        if state.withLock({ $0.status?.hasReplayed(lsn) ?? false }) { return .alreadyReplayed }
        let clock = ContinuousClock()
        let started = clock.now
        let id = state.withLock { state in
            state.nextWaiterID += 1
            return state.nextWaiterID
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let waiter = Waiter(
                    lsn: lsn, deadline: started + timeout, started: started, continuation: continuation, pollInterval: interval
                )
                let (alreadyCancelled, wakeNow) = state.withLock { state in
                    if Task.isCancelled { return (true, false) }
                    state.waiters[id] = waiter
                    return (false, pollNow || interval.map { $0 < state.pollPause } ?? false)
                }
                if alreadyCancelled {
                    continuation.resume(returning: .timedOut(after: clock.now - started))
                    return
                }
                let timer = timers.schedule(in: timeout) {
                    self.resume(waiterWithID: id)
                }
                let stillWaiting = state.withLock { state in
                    state.waiters[id]?.timer = timer
                    return state.waiters[id] != nil
                }
                if !stillWaiting { timers.cancel(timer) }
                // Poll now rather than at the next idle tick: the replica is usually already
                // there (and a watcher in a hurry must not wait out an idle pause).
                if wakeNow { wake.yield() }
            }
        } onCancel: {
            resume(waiterWithID: id)
        }
    }

    /// Polls until graceful shutdown; run it as a service (``MultiRegionDatabase`` does).
    public func run() async throws {
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                // The replica, next door: fast, and what waiting requests need.
                group.addTask {
                    var wakeUps = self.wakeUps.makeAsyncIterator()
                    while !Task.isCancelled {
                        await self.poll()
                        let interval = self.state.withLock { state in
                            state.pollPause = state.waiters.values.lazy.compactMap(\.pollInterval).min().map { min($0, self.idleInterval) } ?? self.idleInterval
                            return state.pollPause
                        }
                        guard await self.sleep(for: interval, orUntilWoken: &wakeUps) else { break }
                    }
                }
                // The primary, perhaps an ocean away: only for the lag, so it never holds up a waiter.
                group.addTask {
                    while !Task.isCancelled {
                        await self.pollPrimary()
                        guard (try? await Task.sleep(for: self.primaryInterval)) != nil else { break }
                    }
                }
                // Until shutdown (or cancellation), then stop both loops.
                await withTaskCancellationHandler {
                    await self.shutDown.wait()
                } onCancel: {
                    self.shutDown.signal()
                }
                group.cancelAll()
            }
        } onGracefulShutdown: {
            self.wake.finish()
            self.shutDown.signal()
        }
        // Nobody is left to wake the waiters; let them fall back rather than hang.
        resumeWaiters { _ in true }
    }

    /// Polls the replica once, now, and wakes whoever can go on (for tools and tests that
    /// must not wait for the next tick).
    public func poll() async {
        var status = await fetchReplicaStatus()
        let previous = self.status
        if status.isReachable != previous?.isReachable || status.isInRecovery != previous?.isInRecovery {
            logger.info(
                "Replica status changed",
                metadata: ["reachable": "\(status.isReachable)", "in_recovery": "\(status.isInRecovery)"]
            )
        }
        status.primaryLSN = state.withLock { $0.primaryLSN }
        if status.lagBytes == 0 { status.lagSeconds = 0 }
        publish(status)
    }

    /// Asks the primary for its WAL position, for the lag shown in the badge and `/readyz`.
    func pollPrimary() async {
        guard let lsn = await fetchPrimaryLSN() else { return }
        state.withLock { state in
            state.primaryLSN = lsn
            state.status?.primaryLSN = lsn
            if state.status?.lagBytes == 0 { state.status?.lagSeconds = 0 }
        }
    }

    private func publish(_ status: ReplicaStatus) {
        state.withLock { $0.status = status }
        metrics?.replicaStatus(status)
        let now = ContinuousClock().now
        resumeWaiters { waiter in status.hasReplayed(waiter.lsn) || waiter.deadline <= now }
    }

    private func resumeWaiters(where shouldResume: (Waiter) -> Bool) {
        let ready = state.withLock { state in
            let ready = state.waiters.filter { shouldResume($0.value) }
            for id in ready.keys { state.waiters.removeValue(forKey: id) }
            return ready.values
        }
        for waiter in ready { resume(waiter) }
    }

    /// Releases one waiter (its timer fired, or its request was cancelled), if still waiting.
    private func resume(waiterWithID id: Int) {
        if let waiter = state.withLock({ $0.waiters.removeValue(forKey: id) }) { resume(waiter) }
    }

    /// Resumes a waiter that was removed from the state, telling it whether the replica has
    /// its position by now.
    private func resume(_ waiter: Waiter) {
        if let timer = waiter.timer { timers.cancel(timer) }
        let waited = ContinuousClock.now - waiter.started
        let caughtUp = status?.hasReplayed(waiter.lsn) ?? false
        waiter.continuation.resume(returning: caughtUp ? .caughtUp(after: waited) : .timedOut(after: waited))
    }

    /// Sleeps for `interval` or until a waiter asks for a poll; `false` once shutting down.
    private func sleep(for interval: Duration, orUntilWoken wakeUps: inout AsyncStream<Void>.Iterator) async -> Bool {
        // A timer task feeds the same stream, so whichever comes first ends the sleep.
        let timer = Task { [wake] in
            // A cancelled timer must not wake the next sleep.
            guard (try? await Task.sleep(for: interval)) != nil else { return }
            wake.yield()
        }
        defer { timer.cancel() }
        return await wakeUps.next() != nil
    }

    private func fetchReplicaStatus() async -> ReplicaStatus {
        let replica = self.replica
        let logger = self.logger
        var status = ReplicaStatus(isReachable: false, isInRecovery: false)
        do {
            let row = try await withDatabaseTimeout(queryTimeout, timers: timers) {
                try await replica.withConnection { connection in
                    let rows = try await connection.query(
                        """
                        SELECT pg_is_in_recovery(),
                               pg_last_wal_replay_lsn()::text,
                               extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8
                        """,
                        logger: logger
                    )
                    var status: (Bool, String?, Double?) = (false, nil, nil)
                    for try await row in rows.decode((Bool, String?, Double?).self) { status = row }
                    return status
                }
            }
            status.isReachable = true
            status.isInRecovery = row.0
            status.replayLSN = row.1.flatMap { LSN($0) }
            status.lagSeconds = row.2
        } catch {
            logger.debug("Replica poll failed", metadata: ["error": "\(String(reflecting: type(of: error)))"])
        }
        return status
    }

    private func fetchPrimaryLSN() async -> LSN? {
        let primary = self.primary
        let logger = self.logger
        return try? await withDatabaseTimeout(primaryQueryTimeout, timers: timers) {
            try await primary.withConnection { try await $0.currentWALPosition(logger: logger) }
        }
    }
}

/// A one-shot signal: `wait()` returns once `signal()` has been called.
private final class ShutdownSignal: Sendable {
    private let state = Mutex<(signalled: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    func signal() {
        let waiters = state.withLock { state in
            state.signalled = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    func wait() async {
        await withCheckedContinuation { continuation in
            let signalled = state.withLock { state in
                if !state.signalled { state.waiters.append(continuation) }
                return state.signalled
            }
            if signalled { continuation.resume() }
        }
    }
}
