import Hummingbird
import HummingbirdMultiRegion
import MultiRegion
import NIOCore
import Synchronization

/// The live pages' streams: `GET /users/live` (every change, for the first page of the list)
/// and `GET /users/{id}/live` (one user's), as server-sent events.
///
/// A stream is a GET that stays in its region and reads the feed of its own replica, so it is
/// registered outside the write routing and is never replayed. Event ids are replay positions:
/// a browser that reconnects sends the last as `Last-Event-ID` and gets what it missed (or
/// one `reload` event when that is too far back); a page's first connection says where its
/// read was made with `?since=`.
struct LiveController: Sendable {
    typealias Context = AppRequestContext

    let feed: ChangeFeed<UserChangeLog>
    let regions: RegionInfo
    /// The list streams' event for the newest batch, made by the first stream to send it and
    /// sent as it is by the others: every list stream gets the same batch (but a catch-up),
    /// so a thousand streams cost one encoding, not a thousand.
    private let listEvent = NewestEvent()

    init(feed: ChangeFeed<UserChangeLog>, regions: RegionInfo) {
        self.feed = feed
        self.regions = regions
    }

    func addRoutes(to router: Router<Context>) {
        router.get("/users/live") { request, _ in stream(request, only: nil) }
        router.get("/users/{id}/live") { request, context in
            guard let id = context.parameters.get("id", as: Int64.self), id > 0 else { throw HTTPError(.notFound) }
            return stream(request, only: id)
        }
    }

    private func stream(_ request: Request, only userID: Int64?) -> Response {
        let after = request.lastEventPosition ?? request.uri.queryParameters["since"].flatMap { LSN($0) }
        let subscription: ChangeSubscription<UserChange>
        do {
            subscription = try feed.subscribe(after: after)
        } catch {
            var response = Response(
                status: .serviceUnavailable,
                headers: [.contentType: "text/plain; charset=utf-8", .retryAfter: "10", .cacheControl: "no-store"],
                body: .init(byteBuffer: ByteBuffer(string: "This instance has as many live pages open as it may; the page still works, reload it to see changes.\n"))
            )
            if case .stopped = error { response.headers[.retryAfter] = "2" }
            return response
        }
        let region = regions.region
        let source = feed.source.rawValue
        let ready = ServerSentEvent(
            event: "ready", data: LiveEvent.json(LiveEvent.Ready(region: region, source: source, position: feed.position?.description))
        )
        let listEvent = self.listEvent
        return Response.changeStream(subscription, opening: ready) { batch in
            func event(_ changes: [UserChange]) -> ServerSentEvent {
                ServerSentEvent(
                    id: batch.position.description, event: "changes",
                    data: LiveEvent.json(LiveEvent.Changes(region: region, source: source, changes: changes.map(LiveEvent.Change.init)))
                )
            }
            guard let userID else {
                // A catch-up batch is this stream's own, though it shares its position.
                return batch.isCatchUp ? event(batch.changes) : listEvent.event(for: batch.position) { event(batch.changes) }
            }
            let changes = batch.changes.filter { $0.userID == userID }
            return changes.isEmpty ? nil : event(changes)
        }
    }
}

/// The event made for the newest batch, kept for the other streams that send the same batch.
private final class NewestEvent: Sendable {
    private let newest = Mutex<(position: LSN, event: ServerSentEvent)?>(nil)

    func event(for position: LSN, make: () -> ServerSentEvent) -> ServerSentEvent {
        if let kept = newest.withLock({ $0 }), kept.position == position { return kept.event }
        let event = make()
        newest.withLock { newest in
            if newest.map({ $0.position < position }) ?? true { newest = (position, event) }
        }
        return event
    }
}
