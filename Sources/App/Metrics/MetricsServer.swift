import Hummingbird
import Logging
import NIOCore

/// The Prometheus endpoint, `GET /metrics` on a port of its own (`METRICS_PORT`), apart from
/// the public port: Fly's scraper reaches it over the private network (`[metrics]` in
/// fly.toml), and the public never does.
enum MetricsServer {
    /// Prometheus's text exposition format.
    static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    /// An application serving `metrics` on `host`:`port`, to run as a service of the app.
    static func application(metrics: AppMetrics, host: String, port: Int, eventLoopGroup: any EventLoopGroup, logger: Logger) -> some ApplicationProtocol {
        let router = Router()
        router.get("/metrics") { _, _ -> Response in
            var body = ByteBuffer()
            body.writeBytes(metrics.registry.emitToBuffer())
            return Response(status: .ok, headers: [.contentType: contentType], body: .init(byteBuffer: body))
        }
        return Application(
            router: router,
            configuration: .init(address: .hostname(host, port: port), serverName: "users-metrics"),
            eventLoopGroupProvider: .shared(eventLoopGroup),
            logger: logger
        )
    }
}
