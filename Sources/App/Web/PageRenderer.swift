#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import HTTPTypes
import Hummingbird
import HummingbirdMultiRegion
import MultiRegion

/// Turns view content into complete HTML responses with the layout and a truthful badge.
struct PageRenderer: Sendable {
    let database: MultiRegionDatabase

    /// The badge for a request, showing `readRole` when given, else the database that answered.
    func badge(readRole role: DatabaseRole? = nil, context: AppRequestContext) -> RegionBadge {
        let facts = RegionFacts(database: database, state: context.multiRegion, readRole: role)
        return RegionBadge(
            facts: facts,
            picker: facts.edgeRegions.isEmpty ? nil : RegionBadge.Picker(regions: facts.edgeRegions, returnPath: context.path)
        )
    }

    /// A full page with the given status.
    func page(
        title: String,
        _ content: HTML,
        status: HTTPResponse.Status = .ok,
        context: AppRequestContext,
        readRole: DatabaseRole? = nil
    ) -> Response {
        let badge = badge(readRole: readRole, context: context)
        context.record?.database = badge.facts.database
        let html = Layout.page(title: title, badge: badge, flash: context.flash, content: content)
        return Response(status: status, headers: HTTPFields(Self.headers), body: .init(byteBuffer: ByteBuffer(bytes: html.utf8)))
    }

    /// The headers of every page, made once.
    private static let headers = [
        HTTPField(name: .contentType, value: "text/html; charset=utf-8"),
        HTTPField(name: .cacheControl, value: "no-store"),
    ]

    /// The markup of an error page for a request that never reached the routes (the request
    /// deadline's answer, made on its connection): the badge shows this instance's facts only.
    func errorHTML(title: String, message: String) -> HTML {
        let facts = RegionFacts(database: database, state: MultiRegionRequestState(), readRole: nil)
        return Layout.page(title: title, badge: RegionBadge(facts: facts, picker: nil), flash: nil, content: ErrorViews.page(title: title, message: message))
    }

    /// An error page: the status, a title, and a message meant for the person reading it.
    func errorPage(_ status: HTTPResponse.Status, title: String, message: String, context: AppRequestContext) -> Response {
        page(title: title, ErrorViews.page(title: title, message: message), status: status, context: context)
    }
}
