import Logging
import PostgresNIO
public import ServiceLifecycle
import Synchronization

/// Changes as this region's database replays them: one reader per process follows the local
/// replica (the primary, in the primary region) and hands every subscriber the same batches.
///
/// When the replica tracker sees the replay position move, the feed reads the ``ChangeLog``
/// once, on the replica, and sends what is new to all its subscribers: one query per advance
/// whatever the number of subscribers, and a change reaches a subscriber only once this
/// region's database has it. A page that reads the database can subscribe from ``position``
/// (taken before its read) and miss nothing in between.
///
/// ```swift
/// let feed = ChangeFeed(name: "users", log: UserChangeLog(), database: database)
/// app.addServices(database, feed)
/// // in a route:
/// let subscription = try feed.subscribe(after: lastEventID)
/// ```
///
/// The feed keeps recent batches (``Configuration/history``), so a subscriber that reconnects
/// with the position it last saw catches up; from further back it gets
/// ``ChangeFeedEvent/reload``. Subscribers are limited (``Configuration/maximumSubscribers``)
/// and buffered only so far (``Configuration/bufferedBatches``).
public final class ChangeFeed<Log: ChangeLog>: Service, Sendable {
    /// The feed's bounds and paces.
    public struct Configuration: Sendable {
        /// The most subscribers at once; past it ``ChangeFeed/subscribe(after:)`` throws.
        public var maximumSubscribers = 1000
        /// How often subscribers get ``ChangeFeedEvent/heartbeat``.
        public var heartbeatInterval: Duration = .seconds(15)
        /// How often the database's position is looked at while anyone subscribes (the
        /// tracker's idle pace otherwise).
        public var watchInterval: Duration = .milliseconds(20)
        /// How many changes the feed keeps for subscribers that reconnect.
        public var history = 2000
        /// How many batches a subscriber may fall behind before it is told to reload.
        public var bufferedBatches = 64
        /// The most changes one read of the log returns.
        public var readLimit = 500
        /// How long a position missing from the log is waited for (a transaction that has not
        /// committed yet), before it counts as rolled back.
        public var gapTimeout: Duration = .seconds(10)

        /// The defaults.
        public init() {}
    }

    private struct State {
        var subscribers: [Int: ChangeSubscription<Log.Change>] = [:]
        var nextID = 0
        /// Where the log was read up to; `nil` until the feed started.
        var cursor: ChangeCursor?
        /// The position of the newest batch (or of the start).
        var position: LSN?
        /// Recent batches, oldest first; complete for every change after `coveredAfter`.
        var history: [ChangeBatch<Log.Change>] = []
        var historyChanges = 0
        var coveredAfter: LSN?
        var stopped = false
    }

    /// The feed's name, in its metrics' `feed` label and its log lines.
    public let name: String
    /// Where the feed's changes come from: the replica, or the primary when this region reads it.
    public let source: DatabaseRole
    private let log: Log
    private let database: MultiRegionDatabase
    private let configuration: Configuration
    private let state = Mutex(State())

    /// A feed of `log`, read from `database`'s replica (or its primary, where reads go there).
    ///
    /// - Parameters:
    ///   - name: The value of its metrics' `feed` label.
    ///   - log: The change log to read.
    ///   - database: The databases; the feed follows the one this region reads.
    ///   - configuration: The bounds and paces.
    public init(name: String, log: Log, database: MultiRegionDatabase, configuration: Configuration = .init()) {
        self.name = name
        self.log = log
        self.database = database
        self.configuration = configuration
        self.source = database.hasReplica ? .replica : .primary
    }

    /// The position of the newest batch read (or of the start): a read made after taking it
    /// has seen every change up to it, so subscribing from it later misses nothing. `nil`
    /// until the feed has started.
    public var position: LSN? { state.withLock { $0.position } }

    /// How many subscribers the feed has now.
    public var subscriberCount: Int { state.withLock { $0.subscribers.count } }

    /// Subscribes to the changes after `position`: those the feed still holds first, then new
    /// ones as they come. With `nil`, only new ones.
    ///
    /// When the feed no longer holds everything after `position` (or has not started yet and
    /// so holds nothing), the subscription yields ``ChangeFeedEvent/reload`` and ends.
    ///
    /// - Parameter position: The position of the last batch the subscriber has (an event id).
    /// - Returns: The subscription; iterate it, and end the iteration to leave.
    /// - Throws: ``ChangeFeedError/tooManySubscribers(limit:)`` at the limit, or
    ///   ``ChangeFeedError/stopped`` after shutdown.
    public func subscribe(after position: LSN?) throws(ChangeFeedError) -> ChangeSubscription<Log.Change> {
        let subscription = ChangeSubscription<Log.Change>(bufferedBatches: configuration.bufferedBatches)
        let result: Result<(id: Int, count: Int, caughtUp: Bool), ChangeFeedError> = state.withLock { state in
            if state.stopped { return .failure(.stopped) }
            guard state.subscribers.count < configuration.maximumSubscribers else {
                return .failure(.tooManySubscribers(limit: configuration.maximumSubscribers))
            }
            state.nextID += 1
            let id = state.nextID
            var caughtUp = true
            if let position {
                if let coveredAfter = state.coveredAfter, position >= coveredAfter {
                    // What it missed, as one batch at the newest missed position (however many
                    // batches that was, it must fit the subscriber's buffer); under the lock, so
                    // no batch published meanwhile is missed or sent twice.
                    let missed = state.history.filter { $0.position > position }
                    if let newest = missed.last {
                        caughtUp = subscription.send(.changes(ChangeBatch(position: newest.position, changes: missed.flatMap(\.changes), isCatchUp: true)))
                    }
                } else {
                    caughtUp = false
                }
            }
            if caughtUp { state.subscribers[id] = subscription }
            return .success((id, state.subscribers.count, caughtUp))
        }
        let (id, count, caughtUp) = try result.get()
        guard caughtUp else {
            database.logger.info(
                "Change feed subscriber must reload: it asks from before what the feed holds",
                metadata: ["feed": "\(name)", "after": "\(position.map(\.description) ?? "none")"]
            )
            subscription.reload()
            return subscription
        }
        subscription.onTermination { [weak self] in self?.unsubscribe(id) }
        database.metrics.changeFeedSubscribers(name, count: count)
        return subscription
    }

    /// Follows the database until graceful shutdown, then ends every subscription.
    public func run() async throws {
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                group.addTask { await self.beat() }
                await self.follow()
                group.cancelAll()
            }
        }
        let subscribers = state.withLock { state in
            state.stopped = true
            defer { state.subscribers = [:] }
            return state.subscribers.values
        }
        for subscriber in subscribers { subscriber.cancel() }
        database.metrics.changeFeedSubscribers(name, count: 0)
    }

    // MARK: - Following the database

    private func unsubscribe(_ id: Int) {
        let count = state.withLock { state in
            state.subscribers.removeValue(forKey: id)
            return state.subscribers.count
        }
        database.metrics.changeFeedSubscribers(name, count: count)
    }

    /// Heartbeats for every subscriber, from one timer.
    private func beat() async {
        while (try? await Task.sleep(for: configuration.heartbeatInterval)) != nil {
            for subscriber in state.withLock({ Array($0.subscribers.values) }) where !subscriber.send(.heartbeat) {
                subscriber.reload()
            }
        }
    }

    /// Starts, then reads the log each time the position moves, until cancelled.
    private func follow() async {
        var retry = Duration.milliseconds(100)
        while !Task.isCancelled {
            do {
                if state.withLock({ $0.cursor == nil }) {
                    try await start()
                } else if let moved = await nextPosition() {
                    database.metrics.changeFeedAdvanced(name)
                    try await read(at: moved)
                }
                retry = .milliseconds(100)
            } catch {
                database.logger.debug("Change feed read failed", metadata: ["feed": "\(name)", "error": "\(String(reflecting: type(of: error)))"])
                try? await Task.sleep(for: retry)
                retry = min(retry * 2, .seconds(2))
            }
        }
    }

    /// Takes the position first, then the log's newest entry: every change committed up to
    /// that position is at or below the entry, so the history is complete after the position.
    private func start() async throws {
        guard let position = try await currentPosition() else { return }
        let newest = try await onDatabase { [log, logger = database.logger] in try await log.newestPosition(on: $0, logger: logger) }
        state.withLock { state in
            state.cursor = ChangeCursor(startingAfter: newest, gapTimeout: configuration.gapTimeout)
            state.position = position
            state.coveredAfter = position
        }
        database.logger.debug("Change feed started", metadata: ["feed": "\(name)", "position": "\(position)"])
    }

    /// Reads what is new up to `position` and hands it to the subscribers.
    private func read(at position: LSN) async throws {
        var fresh: [Log.Change] = []
        while true {
            guard let cursor = state.withLock({ $0.cursor }) else { return }
            let changes: [Log.Change]
            do {
                changes = try await onDatabase { [log, limit = configuration.readLimit, logger = database.logger] connection in
                    try await log.changes(after: cursor.newest, orAmong: cursor.missing, limit: limit, on: connection, logger: logger)
                }
            } catch {
                database.metrics.changeFeedRead(name, ok: false, changes: 0)
                throw error
            }
            let isNew = state.withLock { state in state.cursor?.accept(changes.map(log.position(of:))) ?? [] }
            let new = zip(changes, isNew).compactMap { $1 ? $0 : nil }
            database.metrics.changeFeedRead(name, ok: true, changes: new.count)
            fresh += new
            // A full read may have left more behind: read on at the same position.
            guard changes.count >= configuration.readLimit, !new.isEmpty else { break }
        }
        publish(ChangeBatch(position: position, changes: fresh))
    }

    private func publish(_ batch: ChangeBatch<Log.Change>) {
        let behind = state.withLock { state -> [ChangeSubscription<Log.Change>] in
            state.position = max(state.position ?? batch.position, batch.position)
            guard !batch.changes.isEmpty else { return [] }
            state.history.append(batch)
            state.historyChanges += batch.changes.count
            var dropped = 0
            while state.historyChanges > configuration.history, dropped < state.history.count - 1 {
                state.historyChanges -= state.history[dropped].changes.count
                state.coveredAfter = state.history[dropped].position
                dropped += 1
            }
            if dropped > 0 { state.history.removeFirst(dropped) }
            return state.subscribers.values.filter { !$0.send(.changes(batch)) }
        }
        // Too far behind to buffer more: they start over (outside the lock: ending one
        // unsubscribes it).
        if !behind.isEmpty {
            database.logger.info(
                "Change feed subscribers fell behind and must reload",
                metadata: ["feed": "\(name)", "count": "\(behind.count)", "buffer": "\(configuration.bufferedBatches)"]
            )
        }
        for subscriber in behind { subscriber.reload() }
    }

    /// The position the feed follows, once it moved past the last one seen; `nil` if it did
    /// not move within a second (or could not be read).
    private func nextPosition() async -> LSN? {
        let last = state.withLock { $0.position }
        let hurry = subscriberCount > 0
        if let tracker = followedTracker {
            return await tracker.waitForReplay(after: last, timeout: .seconds(1), pollingEvery: hurry ? configuration.watchInterval : nil)
        }
        // The primary (or a replica URL that reaches one): ask it, at the same paces.
        guard (try? await Task.sleep(for: hurry ? configuration.watchInterval : .milliseconds(500))) != nil,
              let position = try? await currentPosition(), position > last ?? LSN(0)
        else { return nil }
        return position
    }

    /// The followed database's position now: the replica's replay position, or the primary's
    /// WAL position.
    private func currentPosition() async throws -> LSN? {
        if let tracker = followedTracker {
            if let lsn = tracker.status?.replayLSN { return lsn }
            return await tracker.waitForReplay(after: nil, timeout: .seconds(1), pollingEvery: configuration.watchInterval)
        }
        return try await onDatabase { [logger = database.logger] in try await $0.currentWALPosition(logger: logger) }
    }

    /// The tracker whose replay position the feed follows: `nil` in the primary region, and
    /// when the replica URL reaches a server that is not in recovery (it has no replay position).
    private var followedTracker: ReplicaTracker? {
        guard let tracker = database.tracker else { return nil }
        guard let status = tracker.status, status.isReachable else { return tracker }
        return status.isInRecovery ? tracker : nil
    }

    /// One call on the database the feed reads, within the database timeout.
    private func onDatabase<Result: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> Result) async throws -> Result {
        let pool = database.pool(for: source)
        return try await withDatabaseTimeout(database.configuration.databaseTimeout, timers: database.timers) {
            try await pool.withConnection(body)
        }
    }
}
