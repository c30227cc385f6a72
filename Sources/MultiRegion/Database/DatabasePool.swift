import Logging
import NIOCore
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// A small pool of connections to one PostgreSQL server, made for the request path.
///
/// It replaces PostgresNIO 1.33's `PostgresClient` in the server, for three reasons measured
/// here: every lease and release of a `PostgresClient` connection cancels and restarts an
/// idle timer and a keep-alive timer, each a task group of two tasks around a `Task.sleep`
/// (about a third of the app's CPU time on `GET /users/{id}`, and memory held until each
/// sleep's deadline); a pool whose minimum is above one stops the process on a precondition
/// after a database restart; and a lease has no bound of its own.
///
/// - Connections open on demand, up to `maximumConnections`; `minimumConnections` stay open
///   while the server is up.
/// - A lease takes the most recently used idle connection, or waits in line (first come, first
///   served) for a released one or a new one.
/// - A connection counts against the maximum from the moment it is opened until its channel
///   has closed, whoever holds it: a query stuck on a connection that closed under it (the
///   PostgresNIO hang `withHardTimeout` guards against) gives its place back when the channel
///   closes.
/// - A failed attempt to connect fails the lease it was made for at once, so a server that is
///   down is noticed in one round trip rather than at the timeout; there is no retry loop.
/// - One maintenance pass a second closes connections idle for `idleTimeout` beyond the
///   minimum, checks the ones kept with `SELECT 1` every `keepAliveInterval`, and reopens the
///   minimum. Nothing runs per query but the lease itself: no timers, no tasks.
/// - A connection older than `maximumLifetime` is retired when it comes back from a lease or
///   while it idles, never under a request: connections through Fly's proxy (`.flycast`,
///   Managed Postgres) must cycle, since the proxy drains them on a restart.
/// - A refused connection (`max_connections` reached, a server starting or stopping) fails the
///   lease like a server that is down; the first refusal of a burst is logged with its
///   SQLSTATE, and every one is reported to `connectFailed` (for a metric).
final class DatabasePool: Service, Sendable {
    struct Configuration: Sendable {
        var connection: PostgresConnection.Configuration
        var maximumConnections: Int
        var minimumConnections = 1
        /// Connections beyond the minimum close after being idle this long.
        var idleTimeout: Duration = .seconds(10)
        /// Idle connections are checked this often, so a dead one is found before a request.
        var keepAliveInterval: Duration = .seconds(30)
        /// Upper bound for opening a connection, TLS and authentication included.
        var connectTimeout: Duration = .seconds(3)
        /// Connections older than this are closed between leases and replaced on demand.
        var maximumLifetime: Duration = .seconds(600)
    }

    private struct IdleConnection {
        let connection: PostgresConnection
        let since: ContinuousClock.Instant
        var checked: ContinuousClock.Instant
        let opened: ContinuousClock.Instant
    }

    private struct Waiter {
        let id: UInt64
        let continuation: CheckedContinuation<PostgresConnection, any Error>
    }

    private struct State {
        /// Ready connections, most recently used last.
        var idle: [IdleConnection] = []
        /// Connections opening or open, until their channel closes.
        var slots = 0
        /// Attempts to connect still running.
        var connecting = 0
        /// Connections established and not closed yet.
        var connected = 0
        /// Leases waiting for a connection, oldest first.
        var waiters: [Waiter] = []
        var nextID: UInt64 = 0
        var isClosed = false
        /// Whether the last attempt to connect failed (for logging changes only).
        var isFailing = false
        /// When each established connection opened, by connection id.
        var opened: [Int: ContinuousClock.Instant] = [:]
        /// Connections retired for their age.
        var retired = 0

        mutating func takeIdle() -> PostgresConnection? {
            while let last = idle.popLast() {
                if !last.connection.isClosed { return last.connection }
            }
            return nil
        }

        /// Whether another attempt to connect is needed for the leases waiting, and room for it.
        mutating func reserveAttemptForWaiters(maximum: Int) -> Bool {
            guard !isClosed, waiters.count > connecting, slots < maximum else { return false }
            slots += 1
            connecting += 1
            return true
        }
    }

    /// A lease that could not be served because the pool has shut down.
    struct Closed: Error, CustomStringConvertible {
        var description: String { "The database pool has shut down." }
    }

    let configuration: Configuration
    private let eventLoopGroup: any EventLoopGroup
    /// The timers of the keep-alive checks (the app's one clock).
    private let timers: DeadlineTimers
    private let logger: Logger
    private let state = Mutex(State())
    private let connectionIDs = Atomic<Int>(0)
    /// Told the number of established connections whenever it changes (for a metrics gauge).
    private let connectionsChanged: @Sendable (Int) -> Void
    /// Told why an attempt to connect failed: a SQLSTATE (`53300`), `timeout` or `network`.
    private let connectFailedReport: @Sendable (String) -> Void

    init(
        configuration: Configuration,
        eventLoopGroup: any EventLoopGroup,
        timers: DeadlineTimers,
        logger: Logger,
        connectionsChanged: @escaping @Sendable (Int) -> Void = { _ in },
        connectFailed: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        precondition(configuration.maximumConnections >= 1 && configuration.minimumConnections <= configuration.maximumConnections)
        self.configuration = configuration
        self.eventLoopGroup = eventLoopGroup
        self.timers = timers
        self.logger = logger
        self.connectionsChanged = connectionsChanged
        self.connectFailedReport = connectFailed
    }

    /// Connections opening or open now.
    var openConnections: Int { state.withLock { $0.slots } }

    /// Connections closed so far because they reached `maximumLifetime`.
    var retiredConnections: Int { state.withLock { $0.retired } }

    /// Runs `body` with a connection of its own, and returns the connection afterwards.
    func withConnection<Result>(_ body: (PostgresConnection) async throws -> Result) async throws -> Result {
        let connection = try await lease()
        do {
            let result = try await body(connection)
            release(connection)
            return result
        } catch {
            release(connection)
            throw error
        }
    }

    /// Runs `query` and reads its whole result; see `PostgresConnection.run(_:logger:)`.
    func run(_ query: PostgresQuery, logger: Logger = Logger(label: "postgres")) async throws {
        try await withConnection { try await $0.run(query, logger: logger) }
    }

    // MARK: - Leases

    private func lease() async throws -> PostgresConnection {
        if let connection = state.withLock({ $0.takeIdle() }) { return connection }
        let id = state.withLock { state in
            state.nextID &+= 1
            return state.nextID
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                enum Next { case use(PostgresConnection), fail(any Error), wait(connecting: Bool) }
                let next = state.withLock { state -> Next in
                    if state.isClosed { return .fail(Closed()) }
                    if Task.isCancelled { return .fail(CancellationError()) }
                    if let connection = state.takeIdle() { return .use(connection) }
                    state.waiters.append(Waiter(id: id, continuation: continuation))
                    return .wait(connecting: state.reserveAttemptForWaiters(maximum: configuration.maximumConnections))
                }
                switch next {
                case .use(let connection): continuation.resume(returning: connection)
                case .fail(let error): continuation.resume(throwing: error)
                case .wait(let connecting): if connecting { connect() }
                }
            }
        } onCancel: {
            let waiter = state.withLock { state -> Waiter? in
                guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
                return state.waiters.remove(at: index)
            }
            waiter?.continuation.resume(throwing: CancellationError())
        }
    }

    private func release(_ connection: PostgresConnection) {
        enum Next { case handOver(Waiter), close, none }
        let next = state.withLock { state -> Next in
            // A closed connection's place is given back when its channel closes.
            if connection.isClosed { return .none }
            if state.isClosed { return .close }
            let now = ContinuousClock.now
            let opened = state.opened[connection.id] ?? now
            if now - opened >= configuration.maximumLifetime {
                // Retired between leases; a waiter gets a new connection when it closes.
                state.retired += 1
                return .close
            }
            if !state.waiters.isEmpty { return .handOver(state.waiters.removeFirst()) }
            state.idle.append(IdleConnection(connection: connection, since: now, checked: now, opened: opened))
            return .none
        }
        switch next {
        case .handOver(let waiter): waiter.continuation.resume(returning: connection)
        case .close: connection.closeSoon()
        case .none: break
        }
    }

    // MARK: - Opening and closing connections

    /// Opens one connection, for which a slot and an attempt were already reserved.
    private func connect() {
        let id = connectionIDs.wrappingAdd(1, ordering: .relaxed).newValue
        let settled = Atomic<Bool>(false)
        let eventLoop = eventLoopGroup.next()
        let task = Task {
            do {
                let connection = try await PostgresConnection.connect(
                    on: eventLoop, configuration: configuration.connection, id: id, logger: logger
                )
                if settled.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged {
                    connected(connection)
                } else {
                    try? await connection.close()
                }
            } catch {
                if settled.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged {
                    connectFailed(error)
                }
            }
        }
        // PostgresNIO bounds the TCP connect only; a server that accepts and then stalls would
        // hold the attempt (and its slot) forever.
        eventLoop.scheduleTask(in: .nanoseconds(configuration.connectTimeout.nanoseconds)) {
            if settled.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged {
                task.cancel()
                self.connectFailed(DatabaseTimeout(after: self.configuration.connectTimeout))
            }
        }
    }

    private func connected(_ connection: PostgresConnection) {
        connection.closeFuture.whenComplete { _ in self.closed(connection) }
        enum Next { case handOver(Waiter), close, none }
        let (next, recovered, count) = state.withLock { state -> (Next, Bool, Int) in
            state.connecting -= 1
            state.connected += 1
            let count = state.connected
            let recovered = state.isFailing
            state.isFailing = false
            if state.isClosed { return (.close, recovered, count) }
            let now = ContinuousClock.now
            state.opened[connection.id] = now
            if !state.waiters.isEmpty { return (.handOver(state.waiters.removeFirst()), recovered, count) }
            state.idle.append(IdleConnection(connection: connection, since: now, checked: now, opened: now))
            return (.none, recovered, count)
        }
        connectionsChanged(count)
        if recovered { logger.info("Connected to the database again") }
        switch next {
        case .handOver(let waiter): waiter.continuation.resume(returning: connection)
        case .close: connection.closeSoon()
        case .none: break
        }
    }

    private func connectFailed(_ error: any Error) {
        let (failed, retry, firstFailure) = state.withLock { state -> (Waiter?, Bool, Bool) in
            state.slots -= 1
            state.connecting -= 1
            let firstFailure = !state.isFailing
            state.isFailing = true
            let failed = state.waiters.isEmpty ? nil : state.waiters.removeFirst()
            return (failed, state.reserveAttemptForWaiters(maximum: configuration.maximumConnections), firstFailure)
        }
        let reason = Self.refusalReason(error)
        if firstFailure {
            logger.warning(
                "Could not connect to the database", metadata: ["error": "\(String(reflecting: type(of: error)))", "reason": "\(reason)"]
            )
        }
        connectFailedReport(reason)
        failed?.continuation.resume(throwing: error)
        if retry { connect() }
    }

    /// A connection's channel closed: its place is free, and waiting leases may need it.
    private func closed(_ connection: PostgresConnection) {
        let (retry, count) = state.withLock { state -> (Bool, Int) in
            state.slots -= 1
            state.connected -= 1
            state.idle.removeAll { $0.connection.id == connection.id }
            state.opened[connection.id] = nil
            return (state.reserveAttemptForWaiters(maximum: configuration.maximumConnections), state.connected)
        }
        connectionsChanged(count)
        if retry { connect() }
    }

    // MARK: - Maintenance and shutdown

    func run() async throws {
        maintain()
        try? await cancelWhenGracefulShutdown {
            while true {
                try await Task.sleep(for: .seconds(1))
                self.maintain()
            }
        }
        await close()
    }

    /// One maintenance pass: close what idled too long, check what is kept, keep the minimum.
    func maintain(now: ContinuousClock.Instant = .now) {
        let (expired, check, warm) = state.withLock { state -> ([PostgresConnection], [PostgresConnection], Bool) in
            guard !state.isClosed else { return ([], [], false) }
            var expired: [PostgresConnection] = []
            var check: [PostgresConnection] = []
            // The oldest idle connections close first; the minimum stays.
            var keep = max(0, configuration.minimumConnections - (state.slots - state.idle.count))
            var kept: [IdleConnection] = []
            for entry in state.idle.reversed() {
                if now - entry.opened >= configuration.maximumLifetime {
                    state.retired += 1
                    expired.append(entry.connection)
                } else if keep > 0 || now - entry.since < configuration.idleTimeout {
                    keep -= 1
                    if now - entry.checked >= configuration.keepAliveInterval {
                        check.append(entry.connection)
                    } else {
                        kept.append(entry)
                    }
                } else {
                    expired.append(entry.connection)
                }
            }
            state.idle = kept.reversed()
            var warm = false
            if state.slots < configuration.minimumConnections, state.connecting == 0 {
                state.slots += 1
                state.connecting += 1
                warm = true
            }
            return (expired, check, warm)
        }
        for connection in expired { connection.closeSoon() }
        for connection in check {
            Task {
                do {
                    try await withHardTimeout(configuration.connectTimeout, timers: timers, timeoutError: { DatabaseTimeout(after: self.configuration.connectTimeout) }) {
                        try await connection.run("SELECT 1", logger: self.logger)
                    }
                    release(connection)
                } catch {
                    connection.closeSoon()
                }
            }
        }
        if warm { connect() }
    }

    /// Stops the pool: waiting leases fail, idle connections close, leased ones close when
    /// they come back. Waits at most a second for the channels to close.
    func close() async {
        let (waiters, idle) = state.withLock { state in
            state.isClosed = true
            defer { (state.waiters, state.idle) = ([], []) }
            return (state.waiters, state.idle)
        }
        for waiter in waiters { waiter.continuation.resume(throwing: Closed()) }
        for entry in idle { entry.connection.closeSoon() }
        let deadline = ContinuousClock.now + .seconds(1)
        while openConnections > 0, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
    }
}

extension DatabasePool {
    /// Why an attempt to connect failed, as a bounded label: the server's SQLSTATE when it
    /// refused (`53300` too many connections, `57P03` starting up or shutting down, `28P01`
    /// bad password), else `timeout` or `network`.
    static func refusalReason(_ error: any Error) -> String {
        if error is DatabaseTimeout { return "timeout" }
        if let state = PostgresErrors.sqlState(of: error), state.count == 5, state.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }) {
            return state
        }
        return "network"
    }
}

extension PostgresConnection {
    /// Starts closing the connection without waiting for it; its `closeFuture` tells when.
    fileprivate func closeSoon() {
        let _: EventLoopFuture<Void> = close()
    }
}
