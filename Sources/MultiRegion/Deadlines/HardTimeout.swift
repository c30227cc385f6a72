import Synchronization

/// Runs `operation` in a task of its own and returns its result, or throws `timeoutError()`
/// once `timeout` has passed, whether or not the operation reacts to cancellation.
///
/// A task group cannot give this guarantee: it returns only after every child has finished,
/// so an operation that awaits something that never completes (PostgresNIO's query on a
/// connection that closed as it was leased is one) holds its caller forever. Here the
/// caller is resumed by whichever comes first, the operation, the timer or the caller's own
/// cancellation; the operation is then cancelled and left to end on its own.
///
/// The timer runs on `timers` (an event loop, not a task), so it fires even when every task
/// involved is stuck.
///
/// The operation's task starts at once, on the caller's thread, and the caller waits (with
/// the timer) only once that task first suspends. The bound is on waiting: a stretch of
/// synchronous work that never suspends runs to its end first, as it would hold any thread
/// of the cooperative pool.
@inlinable
public func withHardTimeout<Success: Sendable>(
    _ timeout: Duration,
    timers: DeadlineTimers,
    timeoutError: @escaping @Sendable () -> any Error,
    operation: @escaping @Sendable () async throws -> Success
) async throws -> Success {
    // The race below is not generic: code that is not specialised for `Success` would look up
    // the metadata of every generic type it uses, on every call. The value comes back as the
    // operation returned it, so the cast cannot fail.
    try await withErasedHardTimeout(timeout, timers: timers, timeoutError: timeoutError, operation: operation) as! Success
}

/// `withHardTimeout` for any value: the race itself, not generic.
@usableFromInline
func withErasedHardTimeout(
    _ timeout: Duration,
    timers: DeadlineTimers,
    timeoutError: @escaping @Sendable () -> any Error,
    operation: @escaping @Sendable () async throws -> any Sendable
) async throws -> any Sendable {
    let race = Race(timers: timers)
    // The operation starts at once on this thread and leaves it only at its first real
    // suspension. Work that never suspends (a health check, a page from memory) has its
    // outcome here already: no hop to another thread, no continuation, no timer.
    let task = Task.immediate {
        do {
            race.finish(.success(try await operation()), cancellingOperation: false)
        } catch {
            race.finish(.failure(error), cancellingOperation: false)
        }
    }
    if let outcome = race.outcomeIfFinished {
        return try outcome.get()
    }
    return try await withTaskCancellationHandler {
        // Unsafe (no checking canary to allocate): `Race` resumes it exactly once.
        try await withUnsafeThrowingContinuation { continuation in
            let timer = timers.schedule(in: timeout) {
                race.finish(.failure(timeoutError()), cancellingOperation: true)
            }
            race.wait(continuation, task: task, timer: timer)
        }
    } onCancel: {
        race.finish(.failure(CancellationError()), cancellingOperation: true)
    }
}

/// The shared state of one `withHardTimeout` call: the first outcome wins, later ones are
/// dropped, and the caller's continuation is resumed exactly once.
private final class Race: Sendable {
    typealias Outcome = Result<any Sendable, any Error>

    private struct State {
        var continuation: UnsafeContinuation<any Sendable, any Error>?
        var outcome: Outcome?
        var cancelsOperation = false
        var task: Task<Void, Never>?
        var timer: DeadlineTimers.Timer?
    }

    private let state = Mutex(State())
    private let timers: DeadlineTimers

    init(timers: DeadlineTimers) {
        self.timers = timers
    }

    /// The outcome, if the operation already ended (before anybody waited for it).
    var outcomeIfFinished: Outcome? {
        state.withLock { $0.outcome }
    }

    /// Stores the caller's continuation with the operation's task and the timer, so the winner
    /// can stop the losers; or, if an outcome is already known (the operation ended, or the
    /// caller was cancelled, before it got here), resumes it at once and stops the losers.
    func wait(_ continuation: UnsafeContinuation<any Sendable, any Error>, task: Task<Void, Never>, timer: DeadlineTimers.Timer) {
        let finished = state.withLock { state -> (Outcome, cancelsOperation: Bool)? in
            if let outcome = state.outcome { return (outcome, state.cancelsOperation) }
            state.continuation = continuation
            state.task = task
            state.timer = timer
            return nil
        }
        guard let (outcome, cancelsOperation) = finished else { return }
        continuation.resume(with: outcome)
        timers.cancel(timer)
        if cancelsOperation { task.cancel() }
    }

    /// Records the first outcome and resumes the caller with it; later calls do nothing.
    func finish(_ outcome: Outcome, cancellingOperation: Bool) {
        let taken = state.withLock { state -> (UnsafeContinuation<any Sendable, any Error>?, Task<Void, Never>?, DeadlineTimers.Timer?)? in
            guard state.outcome == nil else { return nil }
            state.outcome = outcome
            state.cancelsOperation = cancellingOperation
            defer { (state.continuation, state.task, state.timer) = (nil, nil, nil) }
            return (state.continuation, state.task, state.timer)
        }
        guard let (continuation, task, timer) = taken else { return }
        continuation?.resume(with: outcome)
        if let timer { timers.cancel(timer) }
        if cancellingOperation { task?.cancel() }
    }
}
