import CoreMetrics
import Metrics
import Synchronization

/// The machinery's series, through swift-metrics: the app picks the backend by the factory it
/// passes to ``MultiRegionDatabase`` (Prometheus, StatsD, or the process-wide system).
///
/// Every series carries the `region` label. The names:
/// - `db_query_duration_seconds{role,outcome}`, `db_calls_in_flight{role}`,
///   `db_connections_open{role}`, `db_connections_refused_total{role,reason}` (every failed
///   attempt to connect: the server's SQLSTATE, such as `53300`, or `timeout`, `network`);
/// - `replica_reachable`, `replica_lag_bytes`, `replica_lag_seconds`;
/// - `read_your_writes_wait_seconds{outcome}`;
/// - `reads_fallback_to_primary_total{reason}`, `fly_replays_sent_total{reason}`.
/// - a ``ChangeFeed``'s: `change_feed_advances_total{feed}` (moves of the position it follows),
///   `change_feed_reads_total{feed,outcome}` (reads of its change log: one per advance, whatever
///   the number of subscribers), `change_feed_changes_total{feed}`, `change_feed_subscribers{feed}`
///   and `change_feed_refused_total{feed}` (subscribers turned away at the limit).
package final class MultiRegionMetrics: Sendable {
    package let region: String
    private let factory: any MetricsFactory
    private let instruments = InstrumentCache()
    private let queryTimers: [DatabaseRole: [QueryOutcome: Metrics.Timer]]
    private let callsInFlight: [DatabaseRole: Metrics.Meter]

    /// - Parameters:
    ///   - region: The value of every series' `region` label.
    ///   - factory: The backend.
    ///   - replayReasons: Reasons whose replay counter starts at zero, so dashboards show them.
    package init(region: String, factory: any MetricsFactory, replayReasons: [String] = []) {
        self.region = region
        self.factory = factory
        let regionLabel = ("region", region)
        queryTimers = Dictionary(uniqueKeysWithValues: DatabaseRole.allCases.map { role in
            (role, Dictionary(uniqueKeysWithValues: QueryOutcome.allCases.map { outcome in
                (outcome, Metrics.Timer(
                    label: "db_query_duration_seconds", dimensions: [("role", role.rawValue), ("outcome", outcome.rawValue), regionLabel],
                    preferredDisplayUnit: .seconds, factory: factory
                ))
            }))
        })
        callsInFlight = Dictionary(uniqueKeysWithValues: DatabaseRole.allCases.map { role in
            (role, Metrics.Meter(label: "db_calls_in_flight", dimensions: [("role", role.rawValue), regionLabel], factory: factory))
        })
        for reason in replayReasons { counter("fly_replays_sent_total", [("reason", reason)]).increment(by: 0) }
    }

    /// One database call of a request finished.
    package func queryFinished(role: DatabaseRole, outcome: QueryOutcome, after duration: Duration) {
        queryTimers[role]![outcome]!.recordNanoseconds(duration.nanoseconds)
    }

    /// Database calls that hold or wait for a pooled connection, by role.
    package func databaseCallsInFlight(role: DatabaseRole, change: Double) {
        callsInFlight[role]!.increment(by: change)
    }

    /// Connections a pool holds open to the server behind `role` (the connection budget).
    package func databaseConnections(role: DatabaseRole, open: Int) {
        gauge("db_connections_open", [("role", role.rawValue)]).record(open)
    }

    /// An attempt to connect to the server behind `role` failed, for `reason`.
    package func connectionRefused(role: DatabaseRole, reason: String) {
        counter("db_connections_refused_total", [("role", role.rawValue), ("reason", reason)]).increment()
    }

    /// What the tracker last learned: the lag, or nothing while the replica is unreachable.
    package func replicaStatus(_ status: ReplicaStatus) {
        gauge("replica_reachable", []).record(status.isReachable ? 1 : 0)
        gauge("replica_lag_bytes", []).record(status.isReachable ? Double(status.lagBytes ?? 0) : .nan)
        gauge("replica_lag_seconds", []).record(status.isReachable ? status.lagSeconds ?? 0 : .nan)
    }

    /// A read waited for the replica to replay the reader's own write.
    package func readYourWritesWait(_ outcome: ReplicaTracker.WaitOutcome) {
        let (label, waited): (String, Duration) =
            switch outcome {
            case .alreadyReplayed: ("already_replayed", .zero)
            case .caughtUp(let after): ("caught_up", after)
            case .timedOut(let after): ("timed_out", after)
            }
        timer("read_your_writes_wait_seconds", [("outcome", label)]).recordNanoseconds(waited.nanoseconds)
    }

    /// A response asked Fly's proxy to replay the request in the primary region.
    package func replaySent(reason: String) {
        counter("fly_replays_sent_total", [("reason", reason)]).increment()
    }

    /// A read that should have used the replica was served by the primary instead.
    package func readFellBackToPrimary(_ reason: FallbackReason) {
        counter("reads_fallback_to_primary_total", [("reason", reason.rawValue)]).increment()
    }

    /// How a database call ended.
    package enum QueryOutcome: String, Sendable, CaseIterable {
        case ok, error, timeout, unavailable

        package init(_ error: (any Error)?) {
            switch error {
            case nil: self = .ok
            case is DatabaseTimeout: self = .timeout
            case let error? where PostgresErrors.isUnavailable(error): self = .unavailable
            default: self = .error
            }
        }
    }

    /// A change feed saw the position it follows move.
    package func changeFeedAdvanced(_ feed: String) {
        counter("change_feed_advances_total", [("feed", feed)]).increment()
    }

    /// A change feed read its change log (`ok` or `error`) and found `changes` new changes.
    package func changeFeedRead(_ feed: String, ok: Bool, changes: Int) {
        counter("change_feed_reads_total", [("feed", feed), ("outcome", ok ? "ok" : "error")]).increment()
        if changes > 0 { counter("change_feed_changes_total", [("feed", feed)]).increment(by: changes) }
    }

    /// How many subscribers a change feed has now.
    package func changeFeedSubscribers(_ feed: String, count: Int) {
        gauge("change_feed_subscribers", [("feed", feed)]).record(count)
    }

    /// A change feed turned a subscriber away: it had as many as it may have.
    package func changeFeedRefused(_ feed: String) {
        counter("change_feed_refused_total", [("feed", feed)]).increment()
    }

    /// Why a read went to the primary.
    package enum FallbackReason: String, Sendable {
        /// The replica was unreachable (by the tracker, or a read that just failed on it).
        case replicaDown = "replica_down"
        /// The replica had not replayed the reader's own write in time.
        case stale
        /// The replica refused a write hidden in a GET.
        case capturedWrite = "captured_write"
    }

    // MARK: - Instruments, made once per label set

    private func counter(_ name: String, _ labels: [(String, String)]) -> Metrics.Counter {
        instruments.get(.counter, name, labels + [("region", region)]) { Metrics.Counter(label: name, dimensions: $0, factory: factory) }
    }

    private func gauge(_ name: String, _ labels: [(String, String)]) -> Metrics.Gauge {
        instruments.get(.gauge, name, labels + [("region", region)]) { Metrics.Gauge(label: name, dimensions: $0, factory: factory) }
    }

    private func timer(_ name: String, _ labels: [(String, String)]) -> Metrics.Timer {
        instruments.get(.timer, name, labels + [("region", region)]) {
            Metrics.Timer(label: name, dimensions: $0, preferredDisplayUnit: .seconds, factory: factory)
        }
    }
}

/// Instruments by kind, name and labels, so a hot path looks one up under a lock instead of
/// asking the backend.
package final class InstrumentCache: Sendable {
    package enum Kind: Hashable { case counter, gauge, timer }
    private struct Key: Hashable {
        let kind: Kind
        let name: String
        let labels: [String]
    }
    private let instruments = Mutex<[Key: any Sendable]>([:])

    package init() {}

    package func get<Instrument: Sendable>(
        _ kind: Kind, _ name: String, _ labels: [(String, String)], make: ([(String, String)]) -> Instrument
    ) -> Instrument {
        let key = Key(kind: kind, name: name, labels: labels.flatMap { [$0.0, $0.1] })
        return instruments.withLock { instruments in
            if let instrument = instruments[key] as? Instrument { return instrument }
            let instrument = make(labels)
            instruments[key] = instrument
            return instrument
        }
    }
}
