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
    public static var edgeRegionsHeader: HTTPField.Name { HeaderNames.localEdgeRegions }
    /// Fly's request header naming the edge region that received the request.
    public static var flyRegionHeader: HTTPField.Name { HeaderNames.flyRegion }

    /// Creates the middleware.
    public init() {}

    /// Reads the proxy's facts into `context.multiRegion`, then runs the request.
    @inlinable
    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        context.multiRegion.readFlyFacts(from: request)
        return try await next(request, context)
    }
}

extension MultiRegionRequestState {
    /// Fills in what Fly's proxy (or the local edge) says about `request`: what
    /// ``FlyRequestMiddleware`` does, for an app whose own responder wraps every request in one
    /// step. ``MultiRegionMiddleware`` does not read them again.
    ///
    /// - Parameter request: The request as the proxy passed it on.
    public mutating func readFlyFacts(from request: Request) {
        hasFlyFacts = true
        let headers = request.headers
        if headers[FlyReplay.sourceHeader] != nil {
            replayedFrom = FlyReplay.source(of: request).map { $0["region"] ?? "another region" }
        }
        if headers[FlyReplay.failedHeader] != nil {
            replayFailure = FlyReplay.failure(of: request)
        }
        edgeRegion = headers[HeaderNames.flyRegion].flatMap(Self.regionName)
        if let regions = headers[HeaderNames.localEdgeRegions] {
            edgeRegions = regions.split(separator: ",").compactMap { Self.regionName(String($0)) }
        }
    }

    /// A region code, or `nil` for anything that does not look like one.
    private static func regionName(_ text: String) -> String? {
        let name = text.trimmingWhitespace
        return RegionInfo.isRegionCode(name) ? name : nil
    }
}
