import Hummingbird

/// Keeps every request's work in `InFlightRequests` until it really ends, so a stopping
/// server can say what it abandons.
///
/// The deadline itself is kept on the connection (`RequestDeadlineHandler`), which answers a
/// request that runs out of time while its work goes on here.
struct InFlightResponder<Next: HTTPResponder>: HTTPResponder {
    typealias Context = Next.Context

    let next: Next
    let inFlight: InFlightRequests

    func respond(to request: Request, context: Context) async throws -> Response {
        let id = inFlight.begin(request.method, request.uri.string)
        defer { inFlight.end(id) }
        return try await next.respond(to: request, context: context)
    }
}
