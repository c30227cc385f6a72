import MultiRegion

/// What a page tells `Public/live.js`: the stream to open, and the feed's position taken
/// before the page's read (so the stream starts where the page's data ends).
struct LivePage: Sendable, Equatable {
    let url: String
    let since: LSN?

    /// The attributes on the element the script keeps up to date.
    var attributes: HTML {
        "data-live-url=\"\(url)\"\(since.map { " data-live-since=\"\($0.description)\"" as HTML })"
    }
}
