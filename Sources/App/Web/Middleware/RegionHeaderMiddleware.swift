import HTTPTypes
import Hummingbird

/// Adds `Fly-Region: <region>` to every response, so any client can see where it ran.
struct RegionHeaderMiddleware<Context: RequestContext>: RouterMiddleware {
    let region: String

    static var header: HTTPField.Name { HTTPField.Name("Fly-Region")! }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        response.headers[Self.header] = region
        return response
    }
}
