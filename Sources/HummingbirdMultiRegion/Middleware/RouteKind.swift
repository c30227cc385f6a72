/// What the routes behind a multi-region middleware do with data, when their method does not say.
///
/// Add the middleware to a route group with the kind that fits; health checks and assets sit
/// outside every such group and pass through untouched.
public enum RouteKind: Sendable {
    /// GET, HEAD and OPTIONS read; every other method writes (after `_method`).
    case byMethod
    /// Every request writes, a GET too (a session touch, a counter): it goes to the primary.
    case writes
    /// Every request only reads, a POST too (a search form): it stays in its region.
    case reads

    /// Whether a request with `method` writes.
    public func writes(_ method: HTTPRequest.Method) -> Bool {
        switch self {
        case .byMethod: method != .get && method != .head && method != .options
        case .writes: true
        case .reads: false
        }
    }
}

public import HTTPTypes
