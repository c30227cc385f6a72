public import Hummingbird
public import MultiRegion

/// A request context that carries the multi-region machinery's per-request state, the way
/// hummingbird-auth's `AuthRequestContext` carries an identity.
///
/// Add the one property to your own context:
///
/// ```swift
/// struct AppRequestContext: MultiRegionRequestContext {
///     var coreContext: CoreRequestContextStorage
///     var multiRegion = MultiRegionRequestState()
///     init(source: ApplicationRequestContextSource) { coreContext = .init(source: source) }
/// }
/// ```
///
/// or use ``BasicMultiRegionRequestContext`` when you need nothing else.
public protocol MultiRegionRequestContext: RequestContext {
    /// What the middleware learned about this request; set by the middleware only.
    var multiRegion: MultiRegionRequestState { get set }
}

/// What the multi-region middleware learned about one request.
public struct MultiRegionRequestState: Sendable {
    /// The request's way to the databases, once ``ReadRoutingMiddleware`` has chosen.
    public internal(set) var session: DatabaseSession?
    /// The region a replayed request came from (`fly-replay-src`).
    public internal(set) var replayedFrom: String?
    /// The region of the proxy edge that received the request (`Fly-Region` on the request).
    public internal(set) var edgeRegion: String?
    /// The regions behind the local edge (its `local-edge-regions` header); empty on Fly.
    public internal(set) var edgeRegions: [String] = []
    /// The failed replay this request is the fallback of (`fly-replay-failed`): it must not
    /// be replayed again.
    public internal(set) var replayFailure: FlyReplay.Failure?
    /// How long this request waited for the replica to replay the reader's own write.
    public internal(set) var replicationWait: Duration?
    /// Whether Fly's facts about the request have been read (`readFlyFacts(from:)`).
    public internal(set) var hasFlyFacts = false

    /// An empty state, for a context's initializer.
    public init() {}
}

extension MultiRegionRequestContext {
    /// The request's database session: reads where routing chose, writes on the primary.
    ///
    /// - Throws: A 500 `HTTPError` when the route is not behind ``ReadRoutingMiddleware``
    ///   (or ``MultiRegionMiddleware``): a wiring mistake, never the client's.
    public var database: DatabaseSession {
        get throws {
            guard let session = multiRegion.session else {
                throw HTTPError(.internalServerError, message: "This route is not behind the multi-region middleware.")
            }
            return session
        }
    }
}

/// A ready-made context for apps that need nothing but the multi-region state.
public struct BasicMultiRegionRequestContext: MultiRegionRequestContext {
    /// Hummingbird's own per-request storage.
    public var coreContext: CoreRequestContextStorage
    /// What the multi-region middleware learned about this request.
    public var multiRegion = MultiRegionRequestState()

    /// Creates the context of a new request.
    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
    }

    /// Fly's proxy cannot replay a request over 1 MB, so no body may be larger.
    public var maxUploadSize: Int { FlyReplay.maximumReplayableBody }
}
