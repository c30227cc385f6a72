import HTTPTypes
public import Hummingbird

/// Refuses writes that come from another site, so a page elsewhere cannot post forms to this
/// app on a visitor's behalf.
///
/// A browser says where a request comes from with `Sec-Fetch-Site`; older browsers only send
/// `Origin` (or `Referer`), which must then name this site: the host the request was sent to.
/// Clients that send none of these (curl, other servers) are not affected; the app has no
/// accounts, so this is the whole of its CSRF exposure. It runs before write routing, so a
/// forged write is never replayed to the primary region either.
public struct CrossSiteWriteMiddleware<Context: RequestContext>: RouterMiddleware {
    static var fetchSite: HTTPField.Name { HeaderNames.fetchSite }
    static var forwardedHost: HTTPField.Name { HeaderNames.forwardedHost }

    /// Creates the middleware.
    public init() {}

    /// Refuses a write from another site with a 403; lets everything else through.
    @inlinable
    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if RouteKind.byMethod.writes(request.method), Self.isCrossSite(request) {
            throw HTTPError(.forbidden, message: "This form was sent from another site, so it was not accepted. Please use the form on this site.")
        }
        return try await next(request, context)
    }

    /// Whether the browser says, or the request's `Origin` or `Referer` shows, that it comes from
    /// another site.
    public static func isCrossSite(_ request: Request) -> Bool {
        if let site = request.headers[fetchSite] {
            return site.lowercased() == "cross-site"
        }
        guard let source = request.headers[.origin] ?? request.headers[.referer] else { return false }
        guard let target = request.headers[forwardedHost] ?? request.head.authority, let sourceHost = host(of: source) else {
            return true  // `Origin: null` (a sandboxed or file page), or nothing to compare with
        }
        return sourceHost != target.lowercased()
    }

    /// The `host[:port]` of an origin or URL (`https://example.com:8443/path` → `example.com:8443`),
    /// without the scheme's default port; `nil` for anything else.
    public static func host(of url: String) -> String? {
        guard let schemeEnd = url.firstRange(of: "://") else { return nil }
        let scheme = url[..<schemeEnd.lowerBound].lowercased()
        let rest = url[schemeEnd.upperBound...]
        var host = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }.lowercased()
        if host.isEmpty || host.contains("@") { return nil }
        for (defaultScheme, port) in [("http", ":80"), ("https", ":443")] where scheme == defaultScheme && host.hasSuffix(port) {
            host.removeLast(port.count)
        }
        return host
    }
}
