import CoreMetrics
import HTTPTypes
import Metrics
import MultiRegion
import Prometheus
import Synchronization

/// The app's metrics, in Prometheus form for Fly's scraper (`/metrics` on `METRICS_PORT`).
///
/// Each app has its own registry (no process-wide metrics system, so tests can run many apps
/// side by side). The multi-region libraries report their series (`db_*`, `replica_*`,
/// `read_your_writes_*`, `reads_fallback_*`, `fly_replays_*`) through ``factory``; the app adds
/// the requests'. Every series carries the `region` label. Label values are bounded: routes are
/// route patterns (`/users/{id}`, or `NotFound`), methods are the usual ones or `other`,
/// statuses are numbers.
final class AppMetrics: Sendable {
    /// Where every series lives; `MetricsServer` renders it.
    let registry = PrometheusCollectorRegistry()
    let region: String
    /// The backend, for the libraries' series.
    let factory: PrometheusMetricsFactory
    /// The instruments every request touches, found without building and hashing label lists.
    private let requestTimers = Mutex<[RequestKey: Metrics.Timer]>([:])
    private let deadlineCounter: Metrics.Counter

    private struct RequestKey: Hashable {
        let route: String
        let method: HTTPRequest.Method
        let status: Int
    }

    /// - Parameter regions: This instance's facts; the region labels every series, and the
    ///   machine version and image label `app_build_info`.
    init(regions: RegionInfo) {
        let region = regions.region
        self.region = region
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = [
            .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
            .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5), .seconds(10),
        ]
        self.factory = factory
        // Exists from the start, at zero, so a dashboard shows it.
        deadlineCounter = Metrics.Counter(label: "requests_deadline_exceeded_total", dimensions: [("region", region)], factory: factory)
        deadlineCounter.increment(by: 0)
        // Always 1: its labels say which deploy this instance runs, so a dashboard can show a
        // rolling deploy reach one region after another (`none` where Fly does not set them).
        Gauge(
            label: "app_build_info",
            dimensions: [("region", region), ("machine_version", regions.machineVersion ?? "none"), ("image", regions.imageTag ?? "none")],
            factory: factory
        ).record(1)
    }

    /// A request finished (recorded by `RequestReport`).
    func requestFinished(route: String, method: HTTPRequest.Method, status: HTTPResponse.Status, after duration: Duration) {
        let key = RequestKey(route: route, method: method, status: status.code)
        let found = requestTimers.withLock { timers in
            if let found = timers[key] { return found }
            let made = Metrics.Timer(
                label: "http_server_request_duration_seconds",
                dimensions: [("route", route), ("method", Self.methodLabel(method)), ("status", String(status.code)), ("region", region)],
                preferredDisplayUnit: .seconds,
                factory: factory
            )
            timers[key] = made
            return made
        }
        found.recordNanoseconds(duration.nanoseconds)
    }

    /// A request ran out of time and was answered with a 503 at its deadline.
    func requestDeadlineExceeded() {
        deadlineCounter.increment()
    }

    /// The method as a label: the usual ones by name, anything else as `other`.
    static func methodLabel(_ method: HTTPRequest.Method) -> String {
        switch method {
        case .get, .head, .post, .put, .patch, .delete, .options: method.rawValue
        default: "other"
        }
    }
}
