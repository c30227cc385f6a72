import HTTPTypes
import Hummingbird
import HummingbirdMultiRegion
import Logging

/// Reports every request once it is answered: its duration to the metrics, by route pattern,
/// method and status, and (at `info` and below) one log line with the method, path, status,
/// time, route, the database whose answer the page shows, and the request id (Fly's
/// `fly-request-id`, else Hummingbird's).
///
/// It runs outside the error pages, so it sees the status the client gets. Hummingbird's own
/// `MetricsMiddleware` reports to the process-wide metrics system; this one reports to the
/// app's `AppMetrics`, with bounded labels (see there). Replays are counted where they are
/// made, by the multi-region middleware. One middleware for both: they time the same span, and
/// each middleware is one more async frame and copy of the context on every request.
struct RequestReportMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext

    static let flyRequestID = HTTPField.Name("fly-request-id")!

    let metrics: AppMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = ContinuousClock.now
        // Below `info` (production's `warning` included) a request costs no log work at all,
        // not even the record the page fills in for the log line.
        guard context.logger.logLevel <= .info else {
            let response = try await next(request, context)
            metrics.requestFinished(route: context.endpointPath ?? "NotFound", method: request.method, status: response.status, after: .now - started)
            return response
        }
        var context = context
        let record = RequestRecord()
        context.record = record
        let response = try await next(request, context)
        let elapsed = ContinuousClock.now - started
        metrics.requestFinished(route: context.endpointPath ?? "NotFound", method: request.method, status: response.status, after: elapsed)
        var metadata: Logger.Metadata = [
            "status": "\(response.status.code)",
            "ms": "\((elapsed.inSeconds * 10_000).rounded() / 10)",
            "route": "\(context.endpointPath ?? "NotFound")",
        ]
        if let id = request.headers[Self.flyRequestID] ?? context.logger[metadataKey: "hb.request.id"].map({ "\($0)" }) {
            metadata["request_id"] = "\(id)"
        }
        if let database = record.database { metadata["db"] = "\(database.rawValue)" }
        if let replay = response.headers[FlyReplay.replayHeader] { metadata["fly-replay"] = "\(replay)" }
        context.logger.info("\(request.method) \(request.uri.path)", metadata: metadata)
        return response
    }
}
