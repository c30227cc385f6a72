import HummingbirdMultiRegion
import HTTPTypes
import Hummingbird
import Logging

/// Logs one line per request: method, path, status, time, the route, the database whose
/// answer the page shows, and the request id (Fly's `fly-request-id`, else Hummingbird's).
struct RequestLogMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext

    static let flyRequestID = HTTPField.Name("fly-request-id")!

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        // Below `info` (production's `warning` included) a request costs no log work at all.
        guard context.logger.logLevel <= .info else { return try await next(request, context) }
        let started = ContinuousClock.now
        let response = try await next(request, context)
        let ms = (ContinuousClock.now - started).inSeconds * 1000
        var metadata: Logger.Metadata = [
            "status": "\(response.status.code)",
            "ms": "\((ms * 10).rounded() / 10)",
            "route": "\(context.endpointPath ?? "NotFound")",
        ]
        if let id = request.headers[Self.flyRequestID] ?? context.logger[metadataKey: "hb.request.id"].map({ "\($0)" }) {
            metadata["request_id"] = "\(id)"
        }
        if let database = context.record.database { metadata["db"] = "\(database.rawValue)" }
        if let replay = response.headers[FlyReplay.replayHeader] { metadata["fly-replay"] = "\(replay)" }
        context.logger.info("\(request.method) \(request.uri.path)", metadata: metadata)
        return response
    }
}
