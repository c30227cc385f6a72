import Hummingbird

/// Records every request's duration by route pattern, method and status, and every
/// `fly-replay` answer by its reason (the `state` it names).
///
/// It runs outside the error pages, so it sees the status the client gets. Hummingbird's own
/// `MetricsMiddleware` reports to the process-wide metrics system; this one reports to the
/// app's `AppMetrics`, with bounded labels (see there).
struct RequestMetricsMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext

    let metrics: AppMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = ContinuousClock.now
        let response = try await next(request, context)
        metrics.requestFinished(
            route: context.endpointPath ?? "NotFound", method: request.method, status: response.status, after: .now - started
        )
        if let replay = response.headers[FlyReplay.replayHeader], let reason = Self.replayReason(replay) {
            metrics.replaySent(reason)
        }
        return response
    }

    /// The reason in `region=nrt;state=write`.
    static func replayReason(_ header: String) -> FlyReplay.Reason? {
        header.split(separator: ";").lazy.compactMap { part -> FlyReplay.Reason? in
            let pair = part.split(separator: "=", maxSplits: 1)
            guard pair.count == 2, pair[0].trimmed == "state" else { return nil }
            return FlyReplay.Reason(rawValue: pair[1].trimmed)
        }.first
    }
}
