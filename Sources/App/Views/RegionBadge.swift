#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import HummingbirdMultiRegion
import MultiRegion

/// The facts the badge shows: where this request ran and which database answered.
struct RegionBadge: Sendable, Equatable {
    /// What the multi-region layer knows about the request.
    let facts: RegionFacts
    /// Links to browse from another region; only behind the local edge.
    let picker: Picker?

    private var regions: RegionInfo { facts.regions }
    private var database: DatabaseRole { facts.database }
    private var replicaLag: String? { facts.replicaLag }
    private var replicationWait: Duration? { facts.replicationWait }
    private var replayedFrom: String? { facts.replayedFrom }
    private var edgeRegion: String? { facts.edgeRegion }

    /// The local edge's region switcher: links that set its region cookie and come back.
    struct Picker: Sendable, Equatable {
        let regions: [String]
        let returnPath: String
    }

    var html: HTML {
        let place: HTML = regions.isPrimaryRegion
            ? "<span class=\"badge-tag badge-tag-primary\">primary region</span>"
            : "<span class=\"badge-tag\">primary in \(regions.primaryRegion)</span>"
        let dbClass = database == .replica ? "badge-db-replica" : "badge-db-primary"
        let waitText = replicationWait.map { Self.milliseconds($0) }
        return """
            <aside id="region-badge" class="region-badge" aria-label="Where this page came from" \
            data-region="\(regions.region)" data-primary-region="\(regions.primaryRegion)" \
            data-db="\(database.rawValue)" data-in-primary-region="\(regions.isPrimaryRegion)"\
            \(replicaLag.map { " data-replica-lag=\"\($0)\"" as HTML })\
            \(waitText.map { " data-replication-wait-ms=\"\($0)\"" as HTML })\
            \(replayedFrom.map { " data-replayed-from=\"\($0)\"" as HTML })\
            \(edgeRegion.map { " data-edge-region=\"\($0)\"" as HTML })\
            \(regions.machineVersion.map { " data-machine-version=\"\($0)\"" as HTML })\
            \(regions.imageTag.map { " data-image=\"\($0)\"" as HTML })>
              <div class="badge-row">
                <span class="badge-label">Region</span>
                <strong class="badge-region">\(regions.region)</strong>
                \(place)
              </div>
              <div class="badge-row">
                <span class="badge-label">Reads from</span>
                <strong class="\(dbClass)">\(database == .replica ? "replica" : "primary")</strong>
                \(replicaLag.map { "<span class=\"badge-detail\">replica \($0)</span>" as HTML })
              </div>
              \(facts.readsFromPrimaryReason.map { "<div class=\"badge-row badge-note\"><span class=\"badge-label\">No replica</span><span>\($0)</span></div>" as HTML })
              \(facts.mayBeStale ? "<div class=\"badge-row badge-note\" data-may-be-stale=\"true\"><span class=\"badge-label\">Note</span><span>may be older than your last write</span></div>" as HTML : "")
              \(waitText.map { "<div class=\"badge-row\"><span class=\"badge-label\">Waited</span><span>\($0) ms for replication</span></div>" as HTML })
              \(replayedFrom.map { "<div class=\"badge-row\"><span class=\"badge-label\">Replayed</span><span>from \($0)</span></div>" as HTML })
              \(regions.machineID.map { "<div class=\"badge-row\"><span class=\"badge-label\">Machine</span><code>\($0)</code></div>" as HTML })
              \(deployment.map { "<div class=\"badge-row\"><span class=\"badge-label\">Deploy</span><code>\($0)</code></div>" as HTML })
              <div class="badge-row badge-live" data-live-status hidden><span class="badge-label">Live</span><span data-live-text></span></div>
              \(picker.map(pickerHTML))
            </aside>
            """
    }

    /// Which deploy answered: the machine's version and its image's tag, as Fly sets them, so
    /// a rolling deploy can be watched passing from region to region.
    private var deployment: String? {
        let parts = [regions.machineVersion.map { "version \($0)" }, regions.imageTag].compactMap { $0 }
        return parts.isEmpty ? nil : parts.joined(separator: " · ")
    }

    /// The regions to browse from, the current one marked: where the person's requests enter
    /// (the edge region), which is not where this page ran when it was replayed.
    private func pickerHTML(_ picker: Picker) -> HTML {
        let current = edgeRegion ?? regions.region
        let links = picker.regions.map { name -> HTML in
            name == current
                ? "<strong aria-current=\"true\">\(name)</strong>"
                : "<a href=\"/_edge/region?to=\(name)&amp;back=\(picker.returnPath.percentEncodedForQuery)\">\(name)</a>"
        }
        return """
            <nav class="badge-row badge-picker" aria-label="Browse from another region">
              <span class="badge-label">Browse from</span>\(HTML.joined(links, separator: " "))
            </nav>
            """
    }

    private static func milliseconds(_ duration: Duration) -> String {
        let ms = duration.inSeconds * 1000
        return ms < 10 ? Text.fixed(ms, places: 1) : String(Int(ms.rounded()))
    }
}
