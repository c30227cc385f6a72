import Hummingbird
import Logging

/// Logs one line per request: method, path, status, time, and where the reads went.
struct RequestLogMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = ContinuousClock.now
        let response = try await next(request, context)
        let ms = (ContinuousClock.now - started).inSeconds * 1000
        var metadata: Logger.Metadata = ["status": "\(response.status.code)", "ms": "\(Int(ms.rounded()))"]
        if let replay = response.headers[FlyReplay.replayHeader] { metadata["fly-replay"] = "\(replay)" }
        context.logger.info("\(request.method) \(request.uri.path)", metadata: metadata)
        return response
    }
}
