import NIOCore
import NIOPosix
import Synchronization
import Testing

@testable import MultiRegion
import MultiRegionTesting

/// An operation that ignores cancellation: it waits until the test releases it, however long.
private final class Stuck: Sendable {
    private let state = Mutex<(continuation: CheckedContinuation<Void, Never>?, released: Bool, entered: Bool)>((nil, false, false))

    /// Waits until `release()`, ignoring cancellation.
    func wait() async {
        await withCheckedContinuation { continuation in
            let released = state.withLock { state in
                state.entered = true
                if !state.released { state.continuation = continuation }
                return state.released
            }
            if released { continuation.resume() }
        }
    }

    func release() {
        let continuation = state.withLock { state in
            state.released = true
            defer { state.continuation = nil }
            return state.continuation
        }
        continuation?.resume()
    }

    var entered: Bool { state.withLock { $0.entered } }
}

private struct TimedOut: Error {}

@Suite("Hard timeouts: bounded even when the work ignores cancellation", .timeLimit(.minutes(1)))
struct HardTimeoutTests {
    let timers = DeadlineTimers(eventLoop: MultiThreadedEventLoopGroup.singleton.next())

    @Test("An operation that ignores cancellation still gives up at its timeout")
    func stuckOperationTimesOut() async throws {
        let stuck = Stuck()
        let finished = Mutex(false)
        let started = ContinuousClock.now
        await #expect(throws: TimedOut.self) {
            try await withHardTimeout(.milliseconds(200), timers: timers, timeoutError: { TimedOut() }) {
                await stuck.wait()
                finished.withLock { $0 = true }
            }
        }
        let elapsed = ContinuousClock.now - started
        #expect(elapsed >= .milliseconds(200))
        #expect(elapsed < .seconds(2))
        #expect(stuck.entered)
        #expect(!finished.withLock { $0 }, "the operation is still stuck; only the caller moved on")
        // The operation may end later; its result is dropped without a second resume.
        stuck.release()
        try await Task.sleep(for: .milliseconds(50))
        #expect(finished.withLock { $0 })
    }

    @Test("A database timeout is a DatabaseTimeout, which counts as the database being unavailable")
    func databaseTimeout() async throws {
        let stuck = Stuck()
        defer { stuck.release() }
        do {
            try await withDatabaseTimeout(.milliseconds(100), timers: timers) { await stuck.wait() }
            Issue.record("expected a timeout")
        } catch {
            #expect(error is DatabaseTimeout)
            #expect(PostgresErrors.isUnavailable(error))
        }
    }

    @Test("A result or an error that comes first is returned as it is, and the timer does not fire later")
    func resultBeforeTimeout() async throws {
        let value = try await withHardTimeout(.milliseconds(100), timers: timers, timeoutError: { TimedOut() }) { 42 }
        #expect(value == 42)
        struct Failure: Error {}
        await #expect(throws: Failure.self) {
            try await withHardTimeout(.seconds(5), timers: timers, timeoutError: { TimedOut() }) { () async throws -> Int in
                throw Failure()
            }
        }
        try await Task.sleep(for: .milliseconds(200))
    }

    @Test("Cancelling the caller ends the wait at once, even though the operation ignores it")
    func callerCancellation() async throws {
        let stuck = Stuck()
        defer { stuck.release() }
        let caller = Task {
            try await withHardTimeout(.seconds(30), timers: timers, timeoutError: { TimedOut() }) { await stuck.wait() }
        }
        while !stuck.entered { try await Task.sleep(for: .milliseconds(5)) }
        let started = ContinuousClock.now
        caller.cancel()
        await #expect(throws: CancellationError.self) { try await caller.value }
        #expect(ContinuousClock.now - started < .seconds(1))
    }

    @Test("A call that does not end on its caller's cancellation still ends at its timeout; a caller cancelled before it starts gets CancellationError and nothing runs")
    func callThatWaitsOutCancellation() async throws {
        let stuck = Stuck()
        defer { stuck.release() }
        let caller = Task {
            try await withErasedHardTimeout(.milliseconds(300), timers: timers, endsOnCancellation: false, timeoutError: { TimedOut() }) {
                await stuck.wait()
                return 1
            }
        }
        while !stuck.entered { try await Task.sleep(for: .milliseconds(5)) }
        caller.cancel()
        await #expect(throws: TimedOut.self) { try await caller.value }

        let ran = Mutex(false)
        let cancelled = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return try await withErasedHardTimeout(.seconds(30), timers: timers, endsOnCancellation: false, timeoutError: { TimedOut() }) {
                ran.withLock { $0 = true }
                return 1
            }
        }
        await #expect(throws: CancellationError.self) { try await cancelled.value }
        #expect(!ran.withLock { $0 })
    }

    @Test("A caller that is already cancelled returns at once")
    func alreadyCancelled() async throws {
        let stuck = Stuck()
        defer { stuck.release() }
        let caller = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return try await withHardTimeout(.seconds(30), timers: timers, timeoutError: { TimedOut() }) { await stuck.wait() }
        }
        await #expect(throws: CancellationError.self) { try await caller.value }
    }

    @Test("An operation that ends before it ever suspends gives back its result or error as it is, and leaves no timer behind")
    func neverSuspends() async throws {
        let value = try await withHardTimeout(.seconds(30), timers: timers, timeoutError: { TimedOut() }) { 42 }
        #expect(value == 42)
        await #expect(throws: CancellationError.self) {
            try await withHardTimeout(.seconds(30), timers: timers, timeoutError: { TimedOut() }) { () async throws -> Int in throw CancellationError() }
        }
        #expect(timers.pending == 0)
    }

    @Test("Work that runs a while without waiting, then waits for ever, is cut at the timeout once it waits")
    func busyThenStuck() async throws {
        let stuck = Stuck()
        defer { stuck.release() }
        let started = ContinuousClock.now
        await #expect(throws: TimedOut.self) {
            try await withHardTimeout(.milliseconds(200), timers: timers, timeoutError: { TimedOut() }) {
                var sum = 0
                for index in 0..<1_000_000 { sum &+= index }
                #expect(sum != 0)
                await stuck.wait()
            }
        }
        #expect(ContinuousClock.now - started < .seconds(5))
        #expect(stuck.entered)
    }

    @Test("Many concurrent calls each resolve once, whichever side wins")
    func manyRaces() async throws {
        try await withThrowingTaskGroup(of: Bool.self) { group in
            for index in 0..<500 {
                group.addTask {
                    do {
                        try await withHardTimeout(.microseconds(index % 50), timers: timers, timeoutError: { TimedOut() }) {
                            try await Task.sleep(for: .microseconds(25))
                        }
                        return true
                    } catch is TimedOut {
                        return false
                    }
                }
            }
            var answered = 0
            for try await _ in group { answered += 1 }
            #expect(answered == 500)
        }
    }

    @Test("Deadline timers fire once, a tick or so after their delay; cancelled ones never fire")
    func deadlineTimers() async throws {
        let fired = Mutex<[Int: ContinuousClock.Instant]>([:])
        let started = ContinuousClock.now
        var scheduled: [DeadlineTimers.Timer] = []
        for index in 0..<20 {
            // At least 30 ms, so the cancellations below always come first.
            scheduled.append(timers.schedule(in: .milliseconds(30 + 20 * (index % 5))) { fired.withLock { $0[index] = .now } })
        }
        for (index, timer) in scheduled.enumerated() where index >= 10 { timers.cancel(timer) }
        try await Task.sleep(for: .milliseconds(500))
        let times = fired.withLock { $0 }
        #expect(Set(times.keys) == Set(0..<10))
        for (index, time) in times {
            let delay = Duration.milliseconds(30 + 20 * (index % 5))
            #expect(time - started >= delay)
            #expect(time - started < delay + .milliseconds(250))
        }
        #expect(timers.pending == 0)
    }
}
