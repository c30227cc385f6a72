import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

/// A TCP proxy that adds a fixed delay to every byte in both directions, standing in for
/// the distance between an app instance and a database in another region.
public struct TCPDelayProxy: Service {
    /// The loopback port it listens on.
    public let listenPort: Int
    /// The host it forwards to.
    public let targetHost: String
    /// The port it forwards to.
    public let targetPort: Int
    /// The simulated round-trip time: half is added on the way there, half on the way back.
    public let roundTrip: Duration
    let logger: Logger

    /// A link from `listenPort` to `targetHost:targetPort` that adds `roundTrip` per exchange.
    public init(listenPort: Int, targetHost: String, targetPort: Int, roundTrip: Duration, logger: Logger) {
        self.listenPort = listenPort
        self.targetHost = targetHost
        self.targetPort = targetPort
        self.roundTrip = roundTrip
        self.logger = logger
    }

    /// Parses `LISTEN_PORT:TARGET_HOST:TARGET_PORT:RTT`, like `6442:127.0.0.1:5441:80ms`.
    public init(parsing text: String, logger: Logger) throws(EdgeConfigurationError) {
        let parts = text.split(separator: ":").map(String.init)
        guard parts.count == 4, let listen = Int(parts[0]), let target = Int(parts[2]) else { throw .badLink(text) }
        self.init(listenPort: listen, targetHost: parts[1], targetPort: target, roundTrip: try RegionDistances.duration(parts[3]), logger: logger)
    }

    /// Forwards connections until graceful shutdown.
    public func run() async throws {
        let oneWay = TimeAmount.nanoseconds(Int64(roundTrip.components.seconds) * 1_000_000_000 / 2 + roundTrip.components.attoseconds / 2_000_000_000)
        let targetHost = self.targetHost
        let targetPort = self.targetPort
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { inbound in
                ClientBootstrap(group: inbound.eventLoop)
                    .connect(host: targetHost, port: targetPort)
                    .flatMapThrowing { outbound in
                        try inbound.pipeline.syncOperations.addHandler(DelayedForwarder(delay: oneWay, partner: outbound))
                        try outbound.pipeline.syncOperations.addHandler(DelayedForwarder(delay: oneWay, partner: inbound))
                    }
            }
            .bind(host: "127.0.0.1", port: listenPort)
            .get()
        logger.info("Delaying 127.0.0.1:\(listenPort) → \(targetHost):\(targetPort) by \(roundTrip) round trip")
        await withGracefulShutdownHandler {
            try? await server.closeFuture.get()
        } onGracefulShutdown: {
            server.close(promise: nil)
        }
    }
}

/// Forwards what one side reads to the other side, `delay` later, in order.
private final class DelayedForwarder: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    let delay: TimeAmount
    let partner: any Channel

    init(delay: TimeAmount, partner: any Channel) {
        self.delay = delay
        self.partner = partner
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        let partner = self.partner
        context.eventLoop.scheduleTask(in: delay) { partner.writeAndFlush(buffer, promise: nil) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        let partner = self.partner
        context.eventLoop.scheduleTask(in: delay) { partner.close(promise: nil) }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
