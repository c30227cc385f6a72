public import HTTPTypes
public import Hummingbird
import MultiRegion

/// Reads what Fly's proxy (or the local edge) says about a request into the context:
/// the edge region (`Fly-Region`), where a replayed request came from (`fly-replay-src`),
/// whether it is the fallback of a failed replay (`fly-replay-failed`), and, behind the local
/// edge only, the regions its picker can switch to.
///
/// Add it before the error pages, so they show these facts too.
public struct FlyRequestMiddleware<Context: MultiRegionRequestContext>: RouterMiddleware {
    /// The local edge's list of its regions.
    public static var edgeRegionsHeader: HTTPField.Name { HTTPField.Name("local-edge-regions")! }
    /// Fly's request header naming the edge region that received the request.
    public static var flyRegionHeader: HTTPField.Name { HTTPField.Name("fly-region")! }

    /// Creates the middleware.
    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        context.multiRegion.replayedFrom = FlyReplay.source(of: request).map { $0["region"] ?? "another region" }
        context.multiRegion.replayFailure = FlyReplay.failure(of: request)
        context.multiRegion.edgeRegion = request.headers[Self.flyRegionHeader].flatMap(Self.regionName)
        if let regions = request.headers[Self.edgeRegionsHeader] {
            context.multiRegion.edgeRegions = regions.split(separator: ",").compactMap { Self.regionName(String($0)) }
        }
        return try await next(request, context)
    }

    /// A region code, or `nil` for anything that does not look like one.
    private static func regionName(_ text: String) -> String? {
        let name = text.trimmingWhitespace
        return RegionInfo.isRegionCode(name) ? name : nil
    }
}
