import Hummingbird
import Synchronization

/// Per-request state: which database serves the reads, the flash message, replication facts.
///
/// Middleware fills it in before the controller runs; the layout reads it for the badge.
struct AppRequestContext: RequestContext {
    typealias Decoder = URLEncodedFormDecoder

    var coreContext: CoreRequestContextStorage
    /// The database this request reads from (the replica unless something says otherwise).
    var readRole: DatabaseRole = .replica
    /// The flash message set by the previous response, if any.
    var flash: String?
    /// How long this request waited for the replica to replay its own earlier write.
    var replicationWait: Duration?
    /// The region a replayed request came from (from `fly-replay-src`).
    var replayedFrom: String?
    /// The region of the proxy edge that received the request (`Fly-Region` on the request).
    var edgeRegion: String?
    /// Regions the local edge's picker can switch to; empty on Fly.
    var pickerRegions: [String] = []
    /// The request's path, for links that come back to this page.
    var path = "/users"
    /// What the request log line reports; shared by every copy of this context.
    let record = RequestRecord()

    init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
    }

    /// Fly's proxy cannot replay a request over 1 MB, so no write may be larger.
    var maxUploadSize: Int { 1_048_576 }

    var requestDecoder: URLEncodedFormDecoder { URLEncodedFormDecoder() }
}

/// Facts about a request that outer middleware (the request log) reads after inner code set
/// them: a reference, because each middleware passes its own copy of the context down.
final class RequestRecord: Sendable {
    private let role = Mutex<DatabaseRole?>(nil)

    /// The database whose answer the page shows (set when the page is rendered).
    var database: DatabaseRole? {
        get { role.withLock { $0 } }
        set { role.withLock { $0 = newValue } }
    }
}
