import Hummingbird

/// Liveness and readiness for Fly's checks.
struct HealthController: Sendable {
    typealias Context = AppRequestContext

    let tracker: ReplicaTracker?
    let maxReplicaLag: Duration

    func addRoutes(to router: Router<Context>) {
        router.get("healthz", use: live)
        router.get("readyz", use: ready)
    }

    /// 200 while the process runs; it never touches the database.
    @Sendable func live(_ request: Request, context: Context) -> String {
        "ok\n"
    }

    /// 200 while this region can serve fresh reads: no replica, or a reachable replica whose
    /// lag is within `MAX_REPLICA_LAG`; otherwise 503, so Fly can route elsewhere.
    @Sendable func ready(_ request: Request, context: Context) async -> Response {
        guard let tracker else { return Self.text(.ok, "ready: reads use the primary\n") }
        let status = await tracker.firstStatus()
        if !status.isReachable {
            return Self.text(.serviceUnavailable, "not ready: replica unreachable\n")
        }
        if let lag = status.lagSeconds, !status.isCaughtUp, lag > maxReplicaLag.inSeconds {
            return Self.text(.serviceUnavailable, "not ready: replica \(status.lagDescription)\n")
        }
        return Self.text(.ok, "ready: replica \(status.lagDescription)\n")
    }

    private static func text(_ status: HTTPResponse.Status, _ body: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/plain; charset=utf-8"
        headers[.cacheControl] = "no-store"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
    }
}
