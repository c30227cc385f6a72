import HTTPTypes
import Hummingbird

/// Refuses writes that a browser says come from another site (`Sec-Fetch-Site: cross-site`),
/// so a page elsewhere cannot post forms to this app on a visitor's behalf.
///
/// Clients that send no such header (curl, other servers) are not affected; the app has no
/// accounts, so this is the whole of its CSRF exposure.
struct CrossSiteWriteMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext

    static let fetchSite = HTTPField.Name("sec-fetch-site")!

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if WriteRoutingMiddleware.isWrite(request.method), request.headers[Self.fetchSite]?.lowercased() == "cross-site" {
            throw HTTPError(.forbidden, message: "This form was sent from another site, so it was not accepted. Please use the form on this site.")
        }
        return try await next(request, context)
    }
}
