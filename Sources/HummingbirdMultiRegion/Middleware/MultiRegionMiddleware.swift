public import Crypto
public import Hummingbird
public import MultiRegion

/// Everything a page needs, in one middleware: Fly's request facts, write routing, read
/// routing and read-your-writes, in that order, in one step of the request (each middleware
/// of a chain is one more asynchronous call and copy of the context on every request).
///
/// ```swift
/// let pages = router.group().add(middleware: MultiRegionMiddleware(database: database, cookieKey: key))
/// ```
///
/// Fly's facts are read here unless something before it read them already (an app's own
/// responder, with `MultiRegionRequestState.readFlyFacts(from:)`, or
/// ``FlyRequestMiddleware``), so error pages outside it can show them too. Apps that put their
/// own middleware between write routing and read routing add ``WriteRoutingMiddleware`` and
/// ``ReadRoutingMiddleware`` one by one instead.
public struct MultiRegionMiddleware<Context: MultiRegionRequestContext>: RouterMiddleware {
    @usableFromInline let writes: WriteRoutingMiddleware<Context>
    @usableFromInline let reads: ReadRoutingMiddleware<Context>

    /// - Parameters:
    ///   - database: The app's databases.
    ///   - cookieKey: The key that signs the read-your-writes cookie; the same on every instance.
    ///   - kind: Which requests write (default: by method).
    public init(database: MultiRegionDatabase, cookieKey: SymmetricKey, kind: RouteKind = .byMethod) {
        self.writes = WriteRoutingMiddleware(database: database, kind: kind)
        self.reads = ReadRoutingMiddleware(database: database, readYourWrites: ReadYourWrites(key: cookieKey), kind: kind)
    }

    /// - Parameters:
    ///   - database: The app's databases.
    ///   - cookieSecret: A secret of at least 32 characters, the same on every instance
    ///     (`SECRET_KEY_BASE`); the cookie's key is derived from it.
    ///   - kind: Which requests write (default: by method).
    public init(database: MultiRegionDatabase, cookieSecret: String, kind: RouteKind = .byMethod) {
        let key = SymmetricKey(data: SHA256.hash(data: Array("multi-region read-your-writes\0\(cookieSecret)".utf8)))
        self.init(database: database, cookieKey: key, kind: kind)
    }

    /// Reads Fly's facts, routes a write, then chooses the database for reads, in that order.
    @inlinable
    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        if !context.multiRegion.hasFlyFacts { context.multiRegion.readFlyFacts(from: request) }
        if try writes.database.mustRouteWrite(request, kind: writes.kind) {
            return try await writes.database.routeWrite(request, state: context.multiRegion)
        }
        return try await reads.routing.respond(to: request, context: context, next: next)
    }
}
