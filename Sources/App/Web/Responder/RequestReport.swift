import HTTPTypes
import Hummingbird
import HummingbirdMultiRegion
import Logging

/// Reports every request once it is answered: its duration to the metrics, by route pattern,
/// method and status, and (at `info` and below) one log line with the method, path, status,
/// time, route, the database whose answer the page shows, and the request id (Fly's
/// `fly-request-id`, else Hummingbird's).
///
/// `AppResponder` reports after the error pages, so it sees the status the client gets.
/// Hummingbird's own `MetricsMiddleware` reports to the process-wide metrics system; this
/// reports to the app's `AppMetrics`, with bounded labels (see there). Replays are counted
/// where they are made, by the multi-region middleware.
struct RequestReport: Sendable {
    static let flyRequestID = HTTPField.Name("fly-request-id")!

    let metrics: AppMetrics

    /// Where a request's page records what the log line reports; `nil` when requests are not
    /// logged (above `info`, production's `warning` included), so they cost no allocation.
    func record(for context: AppRequestContext) -> RequestRecord? {
        context.logger.logLevel <= .info ? RequestRecord() : nil
    }

    /// Reports a request that began at `started` and is answered with `response`.
    func finished(_ request: Request, context: AppRequestContext, response: Response, started: ContinuousClock.Instant) {
        let elapsed = ContinuousClock.now - started
        let route = context.endpointPath ?? "NotFound"
        metrics.requestFinished(route: route, method: request.method, status: response.status, after: elapsed)
        guard let record = context.record else { return }
        var metadata: Logger.Metadata = [
            "status": "\(response.status.code)",
            "ms": "\((elapsed.inSeconds * 10_000).rounded() / 10)",
            "route": "\(route)",
        ]
        if let id = request.headers[Self.flyRequestID] ?? context.logger[metadataKey: "hb.request.id"].map({ "\($0)" }) {
            metadata["request_id"] = "\(id)"
        }
        if let database = record.database { metadata["db"] = "\(database.rawValue)" }
        if let replay = response.headers[FlyReplay.replayHeader] { metadata["fly-replay"] = "\(replay)" }
        context.logger.info("\(request.method) \(request.uri.path)", metadata: metadata)
    }
}
