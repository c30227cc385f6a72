import Hummingbird
import HummingbirdCore
import HummingbirdMultiRegion
import MultiRegion
import Synchronization

/// Per-request state: the multi-region facts and database session (filled in by the
/// libraries' middleware), the flash message, and what the request log reports.
///
/// Middleware fills it in before the controller runs; the layout reads it for the badge.
struct AppRequestContext: MultiRegionRequestContext {
    typealias Decoder = URLEncodedFormDecoder

    var coreContext: CoreRequestContextStorage
    var multiRegion = MultiRegionRequestState()
    /// The flash message set by the previous response, if any.
    var flash: String?
    /// What the request log line reports, shared by every copy of this context; `nil` when
    /// requests are not logged (above `info`), so they cost no allocation for it.
    var record: RequestRecord?

    init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
    }

    /// The request's target as sent (set by `AppResponder`, which every request passes).
    var target: String?

    /// The request's path, for links that come back to this page (worked out only when a page
    /// needs it).
    var path: String { target.map { URI($0).path } ?? "/users" }

    /// Fly's proxy cannot replay a request over 1 MB, so no write may be larger.
    var maxUploadSize: Int { FlyReplay.maximumReplayableBody }

    var requestDecoder: URLEncodedFormDecoder { URLEncodedFormDecoder() }
}

/// Facts about a request that `AppResponder` (the request log) reads after inner code set
/// them: a reference, because each middleware passes its own copy of the context down.
final class RequestRecord: Sendable {
    private let role = Mutex<DatabaseRole?>(nil)

    /// The database whose answer the page shows (set when the page is rendered).
    var database: DatabaseRole? {
        get { role.withLock { $0 } }
        set { role.withLock { $0 = newValue } }
    }
}
