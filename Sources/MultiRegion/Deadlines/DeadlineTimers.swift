public import NIOCore
import Synchronization

/// The timers of every hard timeout, on one coarse clock (10 ms ticks on one event loop).
///
/// Each request and each database call has a timer that almost never fires. As NIO scheduled
/// tasks, every one cost two wake-ups of an event loop from another thread (schedule, then
/// cancel). Here scheduling and cancelling are a dictionary insert and remove under a lock; the
/// event loop runs one tick every 10 ms while timers exist (and for a second after the last),
/// and fires those that are due. A timer fires at most one tick late.
public final class DeadlineTimers: Sendable {
    /// How often due timers are looked for.
    static let tick: TimeAmount = .milliseconds(10)
    /// Idle ticks before the clock stops (it starts again with the next timer).
    private static let idleTicksBeforeStopping = 100

    /// A scheduled timer, for `cancel`.
    public struct Timer: Sendable {
        fileprivate let id: UInt64
    }

    private struct Entry {
        let deadline: NIODeadline
        let fire: @Sendable () -> Void
    }

    private struct State {
        var entries: [UInt64: Entry] = [:]
        var nextID: UInt64 = 0
        var isTicking = false
        var idleTicks = 0
    }

    private let eventLoop: any EventLoop
    private let state = Mutex(State())

    /// A clock whose ticks run on `eventLoop`.
    public init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    /// Calls `fire` (on the clock's event loop) once `delay` has passed, unless cancelled first.
    @discardableResult
    public func schedule(in delay: Duration, _ fire: @escaping @Sendable () -> Void) -> Timer {
        let deadline = NIODeadline.now() + .nanoseconds(delay.nanoseconds)
        let (id, start) = state.withLock { state in
            state.nextID &+= 1
            state.entries[state.nextID] = Entry(deadline: deadline, fire: fire)
            defer { state.isTicking = true }
            return (state.nextID, !state.isTicking)
        }
        if start { eventLoop.execute { self.tick() } }
        return Timer(id: id)
    }

    /// Cancels a timer; does nothing if it already fired.
    public func cancel(_ timer: Timer) {
        _ = state.withLock { $0.entries.removeValue(forKey: timer.id) }
    }

    /// Timers not yet fired or cancelled.
    public var pending: Int { state.withLock { $0.entries.count } }

    private func tick() {
        let now = NIODeadline.now()
        let (due, goOn) = state.withLock { state -> ([Entry], Bool) in
            var due: [Entry] = []
            for (id, entry) in state.entries where entry.deadline <= now {
                due.append(entry)
                state.entries[id] = nil
            }
            state.idleTicks = state.entries.isEmpty ? state.idleTicks + 1 : 0
            if state.idleTicks > Self.idleTicksBeforeStopping {
                state.isTicking = false
                state.idleTicks = 0
            }
            return (due, state.isTicking)
        }
        for entry in due { entry.fire() }
        if goOn { eventLoop.scheduleTask(in: Self.tick) { self.tick() } }
    }
}
