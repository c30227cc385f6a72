import HTTPTypes
import Hummingbird
import HummingbirdMultiRegion

/// Builds `AppResponder` around the router.
struct AppResponderBuilder: HTTPResponderBuilder {
    let router: Router<AppRequestContext>
    let dependencies: AppDependencies

    func buildResponder() -> AppResponder {
        AppResponder(
            router: router.buildResponder(),
            responseFields: [
                HTTPField(name: .server, value: "users"),
                HTTPField(name: AppResponder.servedRegion, value: dependencies.configuration.regions.region),
            ] + SecurityHeaders.fields,
            inFlight: dependencies.inFlight,
            errorPages: ErrorPageMiddleware(renderer: dependencies.renderer),
            report: RequestReport(metrics: dependencies.metrics)
        )
    }
}

/// What must hold for every request, around the router, in the order it happens:
///
/// 1. the record of work in flight (for the log of a forced exit);
/// 2. Fly's facts about the request, read into the context (the multi-region library's
///    `readFlyFacts(from:)`), so every page and error page can show them;
/// 3. `_method` (applied before routing, which picks a route by method before any router
///    middleware runs);
/// 4. an HTML page for every error (`ErrorPageMiddleware`, the router's one middleware, and
///    here for an error before routing);
/// 5. `Server`, `Served-Region`, and the security headers;
/// 6. the request's duration in the metrics, and its log line (`RequestReport`).
///
/// The request deadline is kept on the connection (`EarlyAnswerHandler`), which needs no task
/// per request.
///
/// One concrete type with one frame: Hummingbird calls its responder through generic code of
/// its own module, and each middleware or responder wrapped around another is one more
/// asynchronous call and copy of the context on every request (about 4,000 instructions
/// each, measured with callgrind on `GET /healthz`).
struct AppResponder: HTTPResponder {
    typealias Context = AppRequestContext

    /// The response header naming the region that answered (the multi-region library's).
    static let servedRegion = RegionHeaderMiddleware<AppRequestContext>.header

    let router: Router<AppRequestContext>.Responder
    /// `Server: users`, `Served-Region: <this region>` and the security headers, made once.
    let responseFields: [HTTPField]
    let inFlight: InFlightRequests
    let errorPages: ErrorPageMiddleware
    let report: RequestReport

    func respond(to request: Request, context: Context) async throws -> Response {
        let started = ContinuousClock.now
        let id = inFlight.begin(request.method, request.uri.string, at: started)
        defer { inFlight.end(id) }
        var context = context
        context.multiRegion.readFlyFacts(from: request)
        context.target = request.uri.string
        context.record = report.record(for: context)
        var request = request
        var response: Response
        do {
            if MethodOverride.mayOverride(request, maximumBody: FlyReplay.maximumReplayableBody) {
                request = try await MethodOverride.apply(to: request, maximumBody: FlyReplay.maximumReplayableBody)
            }
            response = try await router.respond(to: request, context: context)
        } catch {
            response = errorPages.page(for: error, request: request, context: context)
        }
        SecurityHeaders.secure(&response.headers, overHTTPS: SecurityHeaders.isHTTPS(request.headers), appending: responseFields)
        report.finished(request, context: context, response: response, started: started)
        return response
    }
}
