import ArgumentParser
import HummingbirdMultiRegion
import AsyncHTTPClient
import Hummingbird
import LocalEdge
import Logging
import ServiceLifecycle

/// `Edge`: a local stand-in for Fly's proxy, in front of one app instance per region.
@main
struct EdgeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "Edge",
        abstract: "Route requests to app instances by region and follow fly-replay, like Fly's proxy, on one machine."
    )

    @Option(name: .long, help: "The port to listen on (loopback only).")
    var port = 8080

    @Option(name: .customLong("region"), help: "NAME=http://127.0.0.1:PORT of one region's app instance; the first is the primary region.")
    var regions: [String] = []

    @Option(name: .long, help: "Simulated round trip between regions: 80ms, or nrt-ord=150ms,nrt-ams=230ms,ord-ams=90ms.")
    var rtt: String?

    @Option(name: .customLong("link"), help: "A delayed TCP link, LISTEN_PORT:TARGET_HOST:TARGET_PORT:RTT (an app reaching another region's database).")
    var links: [String] = []

    @Option(
        name: .customLong("cold-start"),
        help: "REGION=BOOT_TIME (or a comma list, ord=3s,ams=2s): that region's machine is stopped; the first request routed there waits BOOT_TIME, like Fly's proxy starting a stopped machine."
    )
    var coldStarts: [String] = []

    @Option(name: .customLong("idle-stop"), help: "With --cold-start: stop a region's machine again after this long without a request (30s); by default it stays running after its first boot.")
    var idleStop: String?

    func run() async throws {
        var logger = Logger(label: "edge")
        logger.logLevel = .info
        let regionMap: RegionMap
        let distances: RegionDistances
        let proxies: [TCPDelayProxy]
        let stoppedMachines: ColdStarts
        do {
            regionMap = try RegionMap(parsing: regions)
            distances = try rtt.map { try RegionDistances(parsing: $0) } ?? .none
            proxies = try links.map { try TCPDelayProxy(parsing: $0, logger: logger) }
            stoppedMachines = try ColdStarts(parsing: coldStarts, idleStop: idleStop)
            try stoppedMachines.check(against: regionMap)
        } catch {
            throw ValidationError("\(error)")
        }
        if idleStop != nil && coldStarts.isEmpty { throw ValidationError("--idle-stop needs --cold-start: it stops only the regions that start stopped") }
        for region in stoppedMachines.regions {
            let idle = stoppedMachines.idleStop.map { "stopped again after \($0) without a request" } ?? "then stays running"
            logger.info("\(region) starts stopped: its first request waits \(stoppedMachines.bootTime(of: region) ?? .zero) for the boot, \(idle)")
        }

        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: EdgeResponder.clientConfiguration)
        var app = Application(
            responder: EdgeResponder(regions: regionMap, distances: distances, coldStarts: stoppedMachines, client: client, logger: logger),
            server: .http1WithEarlyAnswers(),
            configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: "local-edge"),
            logger: logger
        )
        app.addServices(proxies)
        // Like the app, the edge stops within a bound whatever its requests do.
        var group = ServiceGroupConfiguration(services: [app], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        group.maximumGracefulShutdownDuration = .seconds(5)
        do {
            try await ServiceGroup(configuration: group).run()
        } catch {
            try? await client.shutdown()
            throw error
        }
        try await client.shutdown()
    }
}
