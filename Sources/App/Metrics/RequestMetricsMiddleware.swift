import Hummingbird

/// Records every request's duration by route pattern, method and status.
///
/// It runs outside the error pages, so it sees the status the client gets. Hummingbird's own
/// `MetricsMiddleware` reports to the process-wide metrics system; this one reports to the
/// app's `AppMetrics`, with bounded labels (see there). Replays are counted where they are
/// made, by the multi-region middleware.
struct RequestMetricsMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext

    let metrics: AppMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = ContinuousClock.now
        let response = try await next(request, context)
        metrics.requestFinished(
            route: context.endpointPath ?? "NotFound", method: request.method, status: response.status, after: .now - started
        )
        return response
    }
}
