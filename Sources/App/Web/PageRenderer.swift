#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Hummingbird

/// Turns view content into complete HTML responses with the layout and a truthful badge.
struct PageRenderer: Sendable {
    let regions: RegionInfo
    /// `nil` when there is no separate replica: every read goes to the primary.
    let tracker: ReplicaTracker?

    /// The badge for a request whose reads went to `role`.
    ///
    /// "replica" is only claimed when the server behind the replica connection is in
    /// recovery; a promoted or misconfigured "replica" shows as the primary it is.
    func badge(readRole role: DatabaseRole, context: AppRequestContext) -> RegionBadge {
        var database = role
        let status = tracker?.status
        if tracker == nil || (status?.isReachable == true && status?.isInRecovery == false) {
            database = .primary
        }
        return RegionBadge(
            regions: regions,
            database: database,
            replicaLag: tracker == nil ? nil : status?.lagDescription ?? "unknown",
            replicationWait: context.replicationWait,
            replayedFrom: context.replayedFrom,
            edgeRegion: context.edgeRegion,
            picker: context.pickerRegions.isEmpty ? nil : RegionBadge.Picker(regions: context.pickerRegions, returnPath: context.path)
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
        let database = readRole ?? context.readRole
        context.record.database = database
        let html = Layout.page(
            title: title,
            badge: badge(readRole: database, context: context),
            flash: context.flash,
            content: content
        )
        var headers = HTTPFields()
        headers[.contentType] = "text/html; charset=utf-8"
        headers[.cacheControl] = "no-store"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: html.utf8)))
    }

    /// An error page: the status, a title, and a message meant for the person reading it.
    func errorPage(_ status: HTTPResponse.Status, title: String, message: String, context: AppRequestContext) -> Response {
        page(title: title, ErrorViews.page(title: title, message: message), status: status, context: context)
    }
}
