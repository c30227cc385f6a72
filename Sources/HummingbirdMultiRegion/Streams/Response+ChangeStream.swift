public import Hummingbird
public import MultiRegion
import NIOCore
import ServiceLifecycle

extension Response {
    /// A `text/event-stream` response that sends a `ChangeSubscription`'s batches as they
    /// come, until the client leaves, the subscription ends, or the server shuts down
    /// gracefully (which ends the stream at once, so a drain never waits for it).
    ///
    /// Heartbeats go out as comments (`: heartbeat`), which keep proxies' idle timers from
    /// closing a quiet stream and let a write find a client that left; a
    /// `ChangeFeedEvent.reload` goes out as an event named `reload` with empty data, and ends
    /// the stream.
    ///
    /// ```swift
    /// router.get("/entries/live") { request, _ in
    ///     let subscription = try feed.subscribe(after: request.lastEventPosition)
    ///     return Response.changeStream(subscription) { batch in
    ///         ServerSentEvent(id: "\(batch.position)", event: "changes", data: json(batch.changes))
    ///     }
    /// }
    /// ```
    ///
    /// - Parameters:
    ///   - subscription: What to send; the stream leaves the feed when it ends.
    ///   - opening: An event to send first (what the stream is, where it reads from).
    ///   - retry: How long a browser waits before it reconnects, sent as the stream's `retry`.
    ///   - event: The event for a batch, or `nil` to send nothing for it (a filter).
    /// - Returns: The streaming response, `200` with `Cache-Control: no-store`.
    public static func changeStream<Change: Sendable>(
        _ subscription: ChangeSubscription<Change>,
        opening: ServerSentEvent? = nil,
        retry: Duration = .seconds(2),
        event: @escaping @Sendable (ChangeBatch<Change>) -> ServerSentEvent?
    ) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/event-stream; charset=utf-8"
        headers[.cacheControl] = "no-store"
        // Proxies that buffer responses (nginx) must pass this one through as it is written.
        headers[HeaderNames.accelBuffering] = "no"
        let body = ResponseBody { writer in
            defer { subscription.cancel() }
            try await writer.write(ByteBuffer(string: "retry: \(retry.nanoseconds / 1_000_000)\n\n" + (opening?.text ?? "")))
            try await withGracefulShutdownHandler {
                for await item in subscription {
                    switch item {
                    case .changes(let batch):
                        guard let event = event(batch) else { continue }
                        try await writer.write(ByteBuffer(string: event.text))
                    case .heartbeat:
                        try await writer.write(ByteBuffer(string: ": heartbeat\n\n"))
                    case .reload:
                        try await writer.write(ByteBuffer(string: ServerSentEvent(event: "reload", data: "").text))
                    }
                }
            } onGracefulShutdown: {
                subscription.cancel()
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: headers, body: body)
    }
}

extension Request {
    /// The position in a `Last-Event-ID` header (a reconnecting `EventSource` sends the id of
    /// the last event it got), or `nil` without one or when it is not a WAL position.
    public var lastEventPosition: LSN? {
        headers[HeaderNames.lastEventID].flatMap { LSN($0.trimmingPrefix(" ")) }
    }
}
