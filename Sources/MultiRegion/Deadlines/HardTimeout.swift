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
/// The operation's task is an ordinary one (`Task { }`), not one that starts on the caller's
/// thread (`Task.immediate`): the runtime gives such a task an executor preference, which it
/// then looks up under a lock at every suspension and resumption of the task (about 30 times
/// in a database call, and 2,000 instructions more than the hop it saves, measured with
/// callgrind; the ordinary task also made fewer context switches under load).
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
///
/// With `endsOnCancellation: false` the caller's cancellation does not end the wait (the
/// timer and the operation still do; a caller already cancelled returns at once): watching
/// for it puts a record on the caller's task that the runtime consults, under a lock, each
/// time the task is resumed (about 6,000 instructions a call under callgrind). For a call whose
/// caller is rarely cancelled and whose timeout is short, such as a request's database call.
@usableFromInline
func withErasedHardTimeout(
    _ timeout: Duration,
    timers: DeadlineTimers,
    endsOnCancellation: Bool = true,
    timeoutError: @escaping @Sendable () -> any Error,
    operation: @escaping @Sendable () async throws -> any Sendable
) async throws -> any Sendable {
    if !endsOnCancellation, Task.isCancelled { throw CancellationError() }
    let race = Race(timers: timers)
    let task = Task {
        do {
            race.finish(.success(try await operation()), cancellingOperation: false)
        } catch {
            race.finish(.failure(error), cancellingOperation: false)
        }
    }
    guard endsOnCancellation else {
        return try await race.wait(for: task, timeout: timeout, timeoutError: timeoutError)
    }
    return try await withTaskCancellationHandler {
        try await race.wait(for: task, timeout: timeout, timeoutError: timeoutError)
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

    /// Waits for the operation's `task`, or the timer it sets, whichever ends first.
    func wait(
        for task: Task<Void, Never>,
        timeout: Duration,
        timeoutError: @escaping @Sendable () -> any Error
    ) async throws -> any Sendable {
        // Unsafe (no checking canary to allocate): the race resumes it exactly once.
        try await withUnsafeThrowingContinuation { continuation in
            let timer = timers.schedule(in: timeout) {
                self.finish(.failure(timeoutError()), cancellingOperation: true)
            }
            wait(continuation, task: task, timer: timer)
        }
    }

    /// Stores the caller's continuation with the operation's task and the timer, so the winner
    /// can stop the losers; or, if an outcome is already known (the operation ended, or the
    /// caller was cancelled, before it got here), resumes it at once and stops the losers.
    private func wait(_ continuation: UnsafeContinuation<any Sendable, any Error>, task: Task<Void, Never>, timer: DeadlineTimers.Timer) {
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
