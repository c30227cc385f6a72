import MultiRegion
import HTTPTypes
import Synchronization

/// The requests whose work is still running, so a stopping server can say what it abandons.
///
/// A request stays here until its handler has really finished, which may be after it was
/// answered with a 503 at its deadline: that leftover work is what a forced exit cuts short.
final class InFlightRequests: Sendable {
    /// The request deadline: work older than this has had its 503.
    let deadline: Duration

    /// One request's work.
    struct Entry: Sendable {
        let method: HTTPRequest.Method
        /// The request's target as sent (kept as it is: the path is cut out only for a summary).
        let target: String
        /// The target without its query.
        var path: Substring { target.prefix { $0 != "?" } }
        let started: ContinuousClock.Instant
        /// Whether the client already has its answer (a 503 at the deadline); set by `entries`.
        var answered = false
    }

    /// The entries in slots that are reused once free: a request takes and gives back a slot
    /// without hashing anything (this runs twice on every request).
    private struct Slots {
        var entries: [Entry?] = []
        var free: [Int] = []
    }

    private let state = Mutex(Slots())

    /// - Parameter deadline: The request deadline (`REQUEST_TIMEOUT`).
    init(deadline: Duration) {
        self.deadline = deadline
    }

    /// Records a request that started at `started` (now, by default) and returns its id, which
    /// is valid until `end`.
    func begin(_ method: HTTPRequest.Method, _ target: String, at started: ContinuousClock.Instant = .now) -> Int {
        let entry = Entry(method: method, target: target, started: started)
        return state.withLock { state in
            if let slot = state.free.popLast() {
                state.entries[slot] = entry
                return slot
            }
            state.entries.append(entry)
            return state.entries.count - 1
        }
    }

    /// Removes a request whose work has finished.
    func end(_ id: Int) {
        state.withLock { state in
            state.entries[id] = nil
            state.free.append(id)
        }
    }

    /// The requests still running, oldest first.
    func entries(now: ContinuousClock.Instant = .now) -> [Entry] {
        state.withLock { $0.entries.compactMap { $0 } }.sorted { $0.started < $1.started }.map { entry in
            var entry = entry
            entry.answered = now - entry.started >= deadline
            return entry
        }
    }

    /// One line per request still running, for the log of a forced exit.
    func summary(now: ContinuousClock.Instant = .now) -> String {
        entries(now: now).map { entry in
            let seconds = ((now - entry.started).inSeconds * 10).rounded() / 10
            let state = entry.answered ? "answered 503 at its deadline, still running" : "not answered"
            return "\(entry.method) \(entry.path) (\(seconds) s, \(state))"
        }.joined(separator: "; ")
    }
}
