import Hummingbird
import HummingbirdMultiRegion
import MultiRegion
import NIOCore

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
        return Response.changeStream(subscription, opening: ready) { batch in
            let changes = userID.map { id in batch.changes.filter { $0.userID == id } } ?? batch.changes
            guard !changes.isEmpty else { return nil }
            return ServerSentEvent(
                id: batch.position.description, event: "changes",
                data: LiveEvent.json(LiveEvent.Changes(region: region, source: source, changes: changes.map(LiveEvent.Change.init)))
            )
        }
    }
}
