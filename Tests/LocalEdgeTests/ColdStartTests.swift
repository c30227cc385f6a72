import Hummingbird
import Logging
import ServiceLifecycle
import Testing

@testable import LocalEdge
import MultiRegionTesting

@Suite("The local edge plays stopped machines: a cold region's first request waits for the boot")
struct ColdStartTests {
    @Test("The first request to a cold region is held for its boot time; the next one is not, and other regions never wait")
    func firstRequestWaitsForTheBoot() async throws {
        try await withLocalEdge(
            regions: ["nrt", "ord"], coldStarts: ColdStarts(bootTimes: ["ord": .milliseconds(800)]), makeInstance: RegionEcho.application
        ) { edge in
            var jar: [String: String] = [:]
            let nrt = try await edge.timed { try await edge.send(.GET, "/", region: "nrt", jar: &jar, forcingRegion: true) }
            #expect(nrt.reply.body == "nrt")
            #expect(nrt.elapsed < .milliseconds(400), "nrt is running (\(nrt.elapsed))")

            let first = try await edge.timed { try await edge.send(.GET, "/", region: "ord", jar: &jar, forcingRegion: true) }
            #expect(first.reply.status == .ok)
            #expect(first.reply.body == "ord", "held, then forwarded to ord")
            #expect(first.elapsed >= .milliseconds(800), "held for the boot (\(first.elapsed))")

            let second = try await edge.timed { try await edge.send(.GET, "/", region: "ord", jar: &jar, forcingRegion: true) }
            #expect(second.reply.body == "ord")
            #expect(second.elapsed < .milliseconds(400), "ord is running now (\(second.elapsed))")
        }
    }

    @Test("A request that arrives during the boot waits only for the rest of it")
    func requestsDuringTheBootJoinIt() async {
        let machines = SimulatedMachines(ColdStarts(bootTimes: ["ord": .seconds(3)]))
        let start = ContinuousClock.now
        #expect(await machines.admit("ord", at: start) == .started(wait: .seconds(3)))
        #expect(await machines.admit("ord", at: start + .seconds(1)) == .booting(wait: .seconds(2)))
        #expect(await machines.admit("ord", at: start + .seconds(3)) == .running)
        #expect(await machines.admit("nrt", at: start) == .running, "a region without a cold start never waits")
    }

    @Test("Without an idle stop a region boots once; with one, it boots again after that long without a request")
    func idleStopStopsTheMachineAgain() async {
        let start = ContinuousClock.now
        let once = SimulatedMachines(ColdStarts(bootTimes: ["ord": .seconds(2)]))
        _ = await once.admit("ord", at: start)
        #expect(await once.admit("ord", at: start + .seconds(3600)) == .running)

        let idle = SimulatedMachines(ColdStarts(bootTimes: ["ord": .seconds(2)], idleStop: .seconds(30)))
        _ = await idle.admit("ord", at: start)
        #expect(await idle.admit("ord", at: start + .seconds(31)) == .running, "idle for 29 s after its boot ended")
        #expect(await idle.admit("ord", at: start + .seconds(60)) == .running, "idle for 29 s")
        #expect(await idle.admit("ord", at: start + .seconds(90)) == .started(wait: .seconds(2)), "idle for 30 s: stopped")
    }

    @Test("--cold-start and --idle-stop parse as the command line gives them, and mistakes are named")
    func parsing() throws {
        let parsed = try ColdStarts(parsing: ["ord=3s,ams=1500ms", "syd=250"], idleStop: "90s")
        #expect(parsed.bootTimes == ["ord": .seconds(3), "ams": .milliseconds(1500), "syd": .milliseconds(250)])
        #expect(parsed.idleStop == .seconds(90))
        #expect(parsed.regions == ["ams", "ord", "syd"])
        #expect(throws: EdgeConfigurationError.badColdStart("ord")) { try ColdStarts(parsing: ["ord"]) }
        #expect(throws: EdgeConfigurationError.badDuration("soon")) { try ColdStarts(parsing: ["ord=soon"]) }
        #expect(throws: EdgeConfigurationError.duplicateRegion("ord")) { try ColdStarts(parsing: ["ord=1s", "ord=2s"]) }
        #expect(throws: EdgeConfigurationError.badDuration("0s")) { try ColdStarts(parsing: ["ord=1s"], idleStop: "0s") }
        let map = try RegionMap(parsing: ["nrt=http://127.0.0.1:1", "ord=http://127.0.0.1:2"])
        #expect(throws: EdgeConfigurationError.unknownColdStartRegion("ams")) { try ColdStarts(parsing: ["ams=1s"]).check(against: map) }
        try ColdStarts(parsing: ["ord=1s"]).check(against: map)
    }
}

/// An instance that says which region it is, and is always ready.
enum RegionEcho {
    static func application(region: String, port: Int) -> any Service {
        let router = Router()
        router.get("readyz") { _, _ in "ready\n" }
        router.get("/") { _, _ in region }
        var logger = Logger(label: "echo-\(region)")
        logger.logLevel = .critical
        return Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)), logger: logger)
    }
}

extension EdgeClient {
    /// The reply to `send` and how long it took.
    func timed(_ send: () async throws -> Reply) async throws -> (reply: Reply, elapsed: Duration) {
        let started = ContinuousClock.now
        let reply = try await send()
        return (reply, ContinuousClock.now - started)
    }
}
