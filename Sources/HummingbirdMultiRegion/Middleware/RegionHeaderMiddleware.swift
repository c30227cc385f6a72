public import HTTPTypes
public import Hummingbird

/// Adds `Fly-Region: <region>` to every response, so any client can see where it ran.
public struct RegionHeaderMiddleware<Context: RequestContext>: RouterMiddleware {
    let region: String

    /// - Parameter region: This instance's region.
    public init(region: String) {
        self.region = region
    }

    /// The header's name.
    public static var header: HTTPField.Name { HTTPField.Name("Fly-Region")! }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        response.headers[Self.header] = region
        return response
    }
}
