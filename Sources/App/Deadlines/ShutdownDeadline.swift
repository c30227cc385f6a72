import MultiRegion
import Dispatch
import Logging
import ServiceLifecycle
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Bounds how long a stopping process takes.
///
/// When shutdown begins (SIGTERM, SIGINT, or a service that failed, such as a server whose
/// port is taken), a timer starts on a Dispatch queue of its own; if the process is still
/// there when it fires, it logs the requests it abandons and exits. A second SIGTERM or
/// SIGINT exits at once. Nothing here runs on Swift's task pool or waits for a task, so
/// tasks that never resume cannot hold it up.
///
/// Run it as the last service of the group, so graceful shutdown reaches it first.
final class ShutdownDeadline: Service, Sendable {
    private let limit: Duration
    private let inFlight: InFlightRequests
    private let logger: Logger
    private let queue = DispatchQueue(label: "shutdown-deadline")
    /// Whether the timer runs, how many stop signals arrived, and the signal sources (kept
    /// alive for the process's life). Signals are counted apart from arming: the first signal
    /// may reach the group's graceful shutdown, which arms the timer too, before it reaches us.
    private let state = Mutex<(armed: Bool, signalCount: Int, sources: [any DispatchSourceSignal])>((false, 0, []))

    init(limit: Duration, inFlight: InFlightRequests, logger: Logger) {
        self.limit = limit
        self.inFlight = inFlight
        self.logger = logger
    }

    /// Watches SIGTERM and SIGINT: the first arms the timer, a second exits at once.
    ///
    /// ServiceLifecycle watches the same signals to start the graceful shutdown; a signal
    /// reaches every source that watches it.
    func watchSignals() {
        let sources = [SIGTERM, SIGINT].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler { [self] in
                let count = state.withLock { state in
                    state.signalCount += 1
                    return state.signalCount
                }
                if count > 1 { exitNow("A second stop signal arrived (signal \(number)); exiting without waiting.") }
                arm(reason: "signal \(number)")
            }
            source.resume()
            return source
        }
        state.withLock { $0.sources = sources }
    }

    /// Starts the timer, once; later calls do nothing.
    func arm(reason: String) {
        let first = state.withLock { state in
            defer { state.armed = true }
            return !state.armed
        }
        guard first else { return }
        logger.info("Stopping (\(reason)): finishing in-flight requests for at most \(limit.inSeconds) s")
        queue.asyncAfter(deadline: .now() + .nanoseconds(Int(limit.nanoseconds))) { [self] in
            exitNow("Shutdown did not finish within \(limit.inSeconds) s; exiting anyway.")
        }
    }

    /// Waits for graceful shutdown of the group, whatever started it, then arms the timer.
    func run() async throws {
        try? await gracefulShutdown()
        arm(reason: "graceful shutdown")
    }

    private func exitNow(_ message: String) -> Never {
        let abandoned = inFlight.entries().isEmpty ? "none" : inFlight.summary()
        logger.error("\(message)", metadata: ["abandoned_requests": "\(abandoned)"])
        exit(1)
    }
}
