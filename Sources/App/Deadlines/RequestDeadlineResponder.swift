import MultiRegion
import Hummingbird
import NIOCore

/// Answers every request within `timeout`, whatever the work below it does.
///
/// It wraps the whole responder (routing, body reading, every middleware). The work runs in a
/// task of its own (`withHardTimeout`); if it has not answered in time, the client gets
/// `timeoutResponse` (a 503 page with `Retry-After`) and the work is cancelled and left to end
/// on its own, tracked in `inFlight` until it does.
struct RequestDeadlineResponder<Next: HTTPResponder>: HTTPResponder where Next.Context: RequestContext {
    typealias Context = Next.Context

    let next: Next
    let timeout: Duration
    let timers: DeadlineTimers
    let inFlight: InFlightRequests
    /// The answer for a request that ran out of time.
    let timeoutResponse: @Sendable (Request, Context) -> Response

    func respond(to request: Request, context: Context) async throws -> Response {
        let id = inFlight.begin(request.method, request.uri.string)
        let next = self.next
        let inFlight = self.inFlight
        do {
            return try await withHardTimeout(timeout, timers: timers, timeoutError: { RequestDeadlineExceeded() }) {
                defer { inFlight.end(id) }
                return try await next.respond(to: request, context: context)
            }
        } catch is RequestDeadlineExceeded {
            inFlight.markAnswered(id)
            context.logger.warning(
                "Request deadline exceeded; answered 503",
                metadata: ["method": "\(request.method)", "path": "\(request.uri.path)", "timeout_s": "\(timeout.inSeconds)"]
            )
            return timeoutResponse(request, context)
        }
    }
}

/// A request that did not finish within the request timeout.
struct RequestDeadlineExceeded: Error {}
