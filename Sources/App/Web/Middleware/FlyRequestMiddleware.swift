import HTTPTypes
import Hummingbird

/// Reads what Fly's proxy (or the local edge) says about a request into the context:
/// the edge region (`Fly-Region`), where a replayed request came from (`fly-replay-src`),
/// and, behind the local edge only, the regions its picker can switch to.
struct FlyRequestMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext

    static let edgeRegionsHeader = HTTPField.Name("local-edge-regions")!
    static let flyRegionHeader = HTTPField.Name("fly-region")!

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        context.replayedFrom = FlyReplay.source(of: request).map { $0["region"] ?? "another region" }
        context.edgeRegion = request.headers[Self.flyRegionHeader].flatMap(Self.regionName)
        context.pickerRegions = (request.headers[Self.edgeRegionsHeader] ?? "").split(separator: ",").compactMap { Self.regionName(String($0)) }
        context.path = request.uri.path
        return try await next(request, context)
    }

    /// A region code, or `nil` for anything that does not look like one.
    private static func regionName(_ text: String) -> String? {
        let name = text.trimmed
        guard (1...16).contains(name.count), name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }) else { return nil }
        return name
    }
}

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
