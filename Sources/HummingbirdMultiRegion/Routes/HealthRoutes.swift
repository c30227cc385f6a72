public import Hummingbird
import HTTPTypes
public import MultiRegion

/// Liveness and readiness for Fly's checks: `GET /healthz` and `GET /readyz`.
///
/// Register them outside the multi-region middleware: they must answer whatever the databases do.
public struct HealthRoutes<Context: RequestContext>: Sendable {
    let database: MultiRegionDatabase

    /// - Parameter database: Whose replica `/readyz` reports on.
    public init(database: MultiRegionDatabase) {
        self.database = database
    }

    /// Adds `/healthz` and `/readyz` to `router`.
    public func addRoutes(to router: some RouterMethods<Context>) {
        router.get("healthz") { _, _ in Self.text(.ok, "ok\n") }
        router.get("readyz") { _, _ in await ready() }
    }

    /// 200 while this region can serve fresh reads: no replica, or a reachable replica whose
    /// lag is within `MAX_REPLICA_LAG`; otherwise 503, so Fly can route elsewhere.
    public func ready() async -> Response {
        guard let tracker = database.tracker else { return Self.text(.ok, "ready: reads use the primary\n") }
        let status = await tracker.firstStatus()
        if !status.isReachable {
            return Self.text(.serviceUnavailable, "not ready: replica unreachable\n")
        }
        if let lag = status.lagSeconds, !status.isCaughtUp, lag > database.configuration.maxReplicaLag.inSeconds {
            return Self.text(.serviceUnavailable, "not ready: replica \(status.lagDescription)\n")
        }
        return Self.text(.ok, "ready: replica \(status.lagDescription)\n")
    }

    private static func text(_ status: HTTPResponse.Status, _ body: String) -> Response {
        Response(status: status, headers: HTTPFields(HealthHeaders.fields), body: .init(byteBuffer: ByteBuffer(string: body)))
    }
}

/// The headers of every health answer, made once (a generic type cannot hold a stored
/// `static let`).
private enum HealthHeaders {
    static let fields = [
        HTTPField(name: .contentType, value: "text/plain; charset=utf-8"),
        HTTPField(name: .cacheControl, value: "no-store"),
    ]
}
