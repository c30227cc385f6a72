public import HTTPTypes
public import Hummingbird

/// Adds `Served-Region: <region>` to every response, so any client can see where it ran.
///
/// The name stays out of Fly's namespace on purpose: Fly's own `Fly-Region` is a request
/// header that names the edge region that received the request, not the machine's region.
public struct RegionHeaderMiddleware<Context: RequestContext>: RouterMiddleware {
    @usableFromInline let region: String

    /// - Parameter region: This instance's region.
    public init(region: String) {
        self.region = region
    }

    /// The header's name.
    public static var header: HTTPField.Name { HeaderNames.servedRegion }

    // Inlinable, like every generic middleware here: specialised for the app's own context, a
    // request pays no generic dispatch or metadata-driven copies of the context.

    /// Runs the request and adds the region header to its response.
    @inlinable
    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        response.headers[HeaderNames.servedRegion] = region
        return response
    }
}
