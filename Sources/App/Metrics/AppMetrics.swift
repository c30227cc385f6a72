import CoreMetrics
import HTTPTypes
import Metrics
import Prometheus
import Synchronization

/// The app's metrics, in Prometheus form for Fly's scraper (`/metrics` on `METRICS_PORT`).
///
/// Each app has its own registry (no process-wide metrics system, so tests can run many apps
/// side by side), and every series carries the `region` label. Label values are bounded:
/// routes are route patterns (`/users/{id}`, or `NotFound`), methods are the usual ones or
/// `other`, statuses are numbers.
final class AppMetrics: Sendable {
    /// Where every series lives; `MetricsServer` renders it.
    let registry = PrometheusCollectorRegistry()
    let region: String
    private let factory: PrometheusMetricsFactory
    private let instruments = InstrumentCache()
    /// The instruments every request touches, found without building and hashing label lists.
    private let requestTimers = Mutex<[RequestKey: Metrics.Timer]>([:])
    private let queryTimers: [DatabaseRole: [QueryOutcome: Metrics.Timer]]
    private let callsInFlight: [DatabaseRole: Metrics.Meter]

    private struct RequestKey: Hashable {
        let route: String
        let method: HTTPRequest.Method
        let status: Int
    }

    init(region: String) {
        self.region = region
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = [
            .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
            .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5), .seconds(10),
        ]
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
        // Series that should exist from the start, at zero, so a dashboard shows them.
        for reason in FlyReplay.Reason.allCases { counter("fly_replays_sent_total", [("reason", reason.rawValue)]).increment(by: 0) }
        counter("requests_deadline_exceeded_total", []).increment(by: 0)
    }

    // MARK: - What the app reports

    /// A request finished (recorded by `RequestMetricsMiddleware`).
    func requestFinished(route: String, method: HTTPRequest.Method, status: HTTPResponse.Status, after duration: Duration) {
        let key = RequestKey(route: route, method: method, status: status.code)
        let found = requestTimers.withLock { timers in
            if let found = timers[key] { return found }
            let made = self.timer(
                "http_server_request_duration_seconds", [("route", route), ("method", Self.methodLabel(method)), ("status", String(status.code))]
            )
            timers[key] = made
            return made
        }
        found.recordNanoseconds(duration.nanoseconds)
    }

    /// A request ran out of time and was answered with a 503 at its deadline.
    func requestDeadlineExceeded() {
        counter("requests_deadline_exceeded_total", []).increment()
    }

    /// One database call of a request finished.
    func queryFinished(role: DatabaseRole, outcome: QueryOutcome, after duration: Duration) {
        queryTimers[role]![outcome]!.recordNanoseconds(duration.nanoseconds)
    }

    /// Database calls that hold or wait for a pooled connection, by role.
    func databaseCallsInFlight(role: DatabaseRole, change: Double) {
        callsInFlight[role]!.increment(by: change)
    }

    /// Connections a pool holds open to the server behind `role` (the connection budget).
    func databaseConnections(role: DatabaseRole, open: Int) {
        gauge("db_connections_open", [("role", role.rawValue)]).record(open)
    }

    /// What the tracker last learned: the lag, or nothing while the replica is unreachable.
    func replicaStatus(_ status: ReplicaStatus) {
        gauge("replica_reachable", []).record(status.isReachable ? 1 : 0)
        gauge("replica_lag_bytes", []).record(status.isReachable ? Double(status.lagBytes ?? 0) : .nan)
        gauge("replica_lag_seconds", []).record(status.isReachable ? status.lagSeconds ?? 0 : .nan)
    }

    /// A read waited for the replica to replay the reader's own write.
    func readYourWritesWait(_ outcome: ReplicaTracker.WaitOutcome) {
        let (label, waited): (String, Duration) =
            switch outcome {
            case .alreadyReplayed: ("already_replayed", .zero)
            case .caughtUp(let after): ("caught_up", after)
            case .timedOut(let after): ("timed_out", after)
            }
        timer("read_your_writes_wait_seconds", [("outcome", label)]).recordNanoseconds(waited.nanoseconds)
    }

    /// A response asked Fly's proxy to replay the request in the primary region.
    func replaySent(_ reason: FlyReplay.Reason) {
        counter("fly_replays_sent_total", [("reason", reason.rawValue)]).increment()
    }

    /// A read that should have used the replica was served by the primary instead.
    func readFellBackToPrimary(_ reason: FallbackReason) {
        counter("reads_fallback_to_primary_total", [("reason", reason.rawValue)]).increment()
    }

    /// How a database call ended.
    enum QueryOutcome: String, Sendable, CaseIterable {
        case ok, error, timeout, unavailable

        init(_ error: (any Error)?) {
            switch error {
            case nil: self = .ok
            case is DatabaseTimeout: self = .timeout
            case let error? where PostgresErrors.isUnavailable(error): self = .unavailable
            default: self = .error
            }
        }
    }

    /// Why a read went to the primary.
    enum FallbackReason: String, Sendable {
        /// The replica was unreachable (by the tracker, or a read that just failed on it).
        case replicaDown = "replica_down"
        /// The replica had not replayed the reader's own write in time.
        case stale
        /// The replica refused a write hidden in a GET.
        case capturedWrite = "captured_write"
    }

    /// The method as a label: the usual ones by name, anything else as `other`.
    static func methodLabel(_ method: HTTPRequest.Method) -> String {
        switch method {
        case .get, .head, .post, .put, .patch, .delete, .options: method.rawValue
        default: "other"
        }
    }

    // MARK: - Instruments, made once per label set

    private func counter(_ name: String, _ labels: [(String, String)]) -> Metrics.Counter {
        instruments.get(.counter, name, labels + [("region", region)]) { Metrics.Counter(label: name, dimensions: $0, factory: factory) }
    }

    private func gauge(_ name: String, _ labels: [(String, String)]) -> Metrics.Gauge {
        instruments.get(.gauge, name, labels + [("region", region)]) { Metrics.Gauge(label: name, dimensions: $0, factory: factory) }
    }

    private func timer(_ name: String, _ labels: [(String, String)]) -> Metrics.Timer {
        instruments.get(.timer, name, labels + [("region", region)]) { Metrics.Timer(label: name, dimensions: $0, preferredDisplayUnit: .seconds, factory: factory) }
    }

    /// Instruments by kind, name and labels (the region added), so a hot path looks one up
    /// under a lock instead of asking the registry.
    private final class InstrumentCache: Sendable {
        enum Kind: Hashable { case counter, gauge, timer }
        private struct Key: Hashable {
            let kind: Kind
            let name: String
            let labels: [String]
        }
        private let instruments = Mutex<[Key: any Sendable]>([:])

        func get<Instrument: Sendable>(
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
}
