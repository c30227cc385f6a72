import HTTPTypes

/// The header names the middleware reads or writes on every request, made once.
///
/// `HTTPField.Name(_:)` checks and lowercases its text each time it runs; a generic type
/// cannot hold a stored `static let`, so the names live here.
@usableFromInline
enum HeaderNames {
    @usableFromInline static let servedRegion = HTTPField.Name("Served-Region")!
    static let flyRegion = HTTPField.Name("fly-region")!
    static let localEdgeRegions = HTTPField.Name("local-edge-regions")!
    static let fetchSite = HTTPField.Name("sec-fetch-site")!
    static let forwardedHost = HTTPField.Name("x-forwarded-host")!
    static let lastEventID = HTTPField.Name("last-event-id")!
    static let accelBuffering = HTTPField.Name("x-accel-buffering")!
}
