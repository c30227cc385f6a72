import AsyncHTTPClient
import Foundation
import NIOCore
import Synchronization
import Testing

import HummingbirdMultiRegion
import MultiRegion
import MultiRegionTesting

@testable import App

extension DatabaseTests {
    @Suite("The real App process under replica restarts, a taken port and a stalled client", .serialized, .timeLimit(.minutes(3)))
    struct RestartUnderLoadTests {
        let cluster: TestCluster
        static let requestTimeout = 3.0
        static let shutdownTimeout = 4.0

        init() async throws {
            cluster = try TestCluster()
            try await cluster.resetUsers()
        }

        /// What one request got: a status, or no answer at all.
        struct Outcome: Sendable {
            let status: UInt?
            let seconds: Double
            let path: String
        }

        @Test("Through repeated replica restarts under concurrent reads, every request is answered in time, and SIGTERM then stops the app within its drain bound")
        func replicaRestartsUnderLoad() async throws {
            let ids = try await cluster.withApp { client, _ in
                var jar = CookieJar()
                var ids: [Int64] = []
                for index in 0..<20 { ids.append(try await client.createUser(name: "Reader \(index)", age: 20 + index, jar: &jar)) }
                return ids
            }
            try await cluster.waitForReplicaToCatchUp()

            let app = try AppProcess(
                environment: cluster.appEnvironment(
                    region: "ord", primaryRegion: "nrt", writeMode: .direct,
                    extra: [
                        "REQUEST_TIMEOUT": "\(Self.requestTimeout)", "DATABASE_TIMEOUT": "2",
                        "SHUTDOWN_TIMEOUT": "\(Self.shutdownTimeout)", "LOG_LEVEL": "info",
                    ]
                ),
                logPath: "\(cluster.logDirectory)/app-restarts.log"
            )
            let http = HTTPClient(eventLoopGroupProvider: .singleton)
            let base = "http://127.0.0.1:\(app.port)"
            do {
                try await app.waitUntilAnswering(http)
                let outcomes = try await load(http, base: base, ids: ids) {
                    for _ in 0..<4 {
                        try await Task.sleep(for: .milliseconds(1500))
                        try cluster.pgCtl("stop", .replica)
                        try await Task.sleep(for: .milliseconds(1500))
                        try cluster.pgCtl("start", .replica)
                    }
                    try await Task.sleep(for: .seconds(2))
                }
                try await http.shutdown()

                let unanswered = outcomes.filter { $0.status == nil }
                let slowest = outcomes.map(\.seconds).max() ?? 0
                var statuses: [UInt: Int] = [:]
                for outcome in outcomes { if let status = outcome.status { statuses[status, default: 0] += 1 } }
                let summary = "\(outcomes.count) requests, statuses \(statuses.sorted { $0.key < $1.key }), slowest \(slowest) s"
                #expect(outcomes.count > 100, "\(summary)")
                #expect(unanswered.isEmpty, "unanswered: \(unanswered.prefix(5).map(\.path)); \(summary)")
                #expect(slowest < Self.requestTimeout + 0.5, "\(summary)")
                // Reads fall back to the primary while the replica is away: none fails.
                #expect(statuses.keys.allSatisfy { $0 == 200 }, "\(summary)")

                let stopping = ContinuousClock.now
                app.signal(SIGTERM)
                let status = try await app.waitForExit(timeout: .seconds(Self.shutdownTimeout + 1))
                #expect(status != nil, "the app did not exit within \(Self.shutdownTimeout + 1) s of SIGTERM; log:\n\(app.log.suffix(2000))")
                #expect(status == 0, "exit status \(String(describing: status)); log:\n\(app.log.suffix(3000))")
                #expect(ContinuousClock.now - stopping < .seconds(Self.shutdownTimeout + 1))
            } catch {
                try? cluster.pgCtl("start", .replica)
                try? await http.shutdown()
                throw error
            }
        }

        @Test("A second instance on a port that is taken exits at once with a non-zero status")
        func portInUse() async throws {
            let first = try AppProcess(environment: cluster.appEnvironment(), logPath: "\(cluster.logDirectory)/app-first.log")
            let http = HTTPClient(eventLoopGroupProvider: .singleton)
            try await first.waitUntilAnswering(http)
            try await http.shutdown()
            let second = try AppProcess(
                environment: cluster.appEnvironment(),
                port: first.port,
                logPath: "\(cluster.logDirectory)/app-second.log"
            )
            let status = try await second.waitForExit(timeout: .seconds(5))
            #expect(status != nil && status != 0, "log:\n\(second.log.suffix(1000))")
            #expect(second.log.contains("Address already in use"))
            first.signal(SIGTERM)
            #expect(try await first.waitForExit(timeout: .seconds(Self.shutdownTimeout + 10)) == 0)
        }

        @Test("SIGTERM while a client is stuck half-way through sending a form still ends the process within the shutdown bound")
        func stopWithAStuckClient() async throws {
            let (app, socket) = try await appWithStalledClient(shutdownTimeout: Self.shutdownTimeout, log: "app-stuck-client.log")
            defer { withExtendedLifetime(socket) {} }  // the stalled connection must stay open until the end

            let stopping = ContinuousClock.now
            app.signal(SIGTERM)
            let status = try await app.waitForExit(timeout: .seconds(Self.shutdownTimeout + 2))
            let elapsed = ContinuousClock.now - stopping
            #expect(status != nil, "still running \(Self.shutdownTimeout + 2) s after SIGTERM; log:\n\(app.log.suffix(2000))")
            #expect(elapsed < .seconds(Self.shutdownTimeout + 1), "took \(elapsed); log:\n\(app.log.suffix(2000))")
        }

        @Test("One SIGTERM is one signal, and a second one ends a draining process at once")
        func secondSignal() async throws {
            let (app, socket) = try await appWithStalledClient(shutdownTimeout: 20, log: "app-second-signal.log")
            defer { withExtendedLifetime(socket) {} }  // the stalled connection must stay open until the end

            app.signal(SIGTERM)
            // The stalled client keeps the drain busy: one signal must not end it early.
            #expect(try await app.waitForExit(timeout: .seconds(2)) == nil, "log:\n\(app.log.suffix(1500))")
            let second = ContinuousClock.now
            app.signal(SIGTERM)
            let status = try await app.waitForExit(timeout: .seconds(2))
            #expect(status == 1, "log:\n\(app.log.suffix(1500))")
            #expect(ContinuousClock.now - second < .seconds(2))
            #expect(app.log.contains("A second stop signal arrived"))
        }

        /// Starts the app, then leaves a client stalled half-way through sending a form (it
        /// announces 1,000 bytes and sends 10), which keeps a graceful drain busy.
        private func appWithStalledClient(shutdownTimeout: Double, log: String) async throws -> (AppProcess, LoopbackSocket) {
            let app = try AppProcess(
                environment: cluster.appEnvironment(extra: ["SHUTDOWN_TIMEOUT": "\(shutdownTimeout)", "LOG_LEVEL": "info"]),
                logPath: "\(cluster.logDirectory)/\(log)"
            )
            let http = HTTPClient(eventLoopGroupProvider: .singleton)
            try await app.waitUntilAnswering(http)
            try await http.shutdown()
            let socket = try LoopbackSocket(port: app.port)
            try socket.send("POST /users HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\nname=Half&")
            try await Task.sleep(for: .milliseconds(300))
            return (app, socket)
        }

        /// Runs readers against `base` while `faults` runs, and returns what every request got.
        private func load(
            _ http: HTTPClient, base: String, ids: [Int64], readers: Int = 8,
            during faults: @Sendable () async throws -> Void
        ) async throws -> [Outcome] {
            let done = StopFlag()
            return try await withThrowingTaskGroup(of: [Outcome].self) { group in
                for reader in 0..<readers {
                    group.addTask {
                        var outcomes: [Outcome] = []
                        var count = 0
                        while !done.isSet, count < 100_000 {
                            count += 1
                            let path = (count + reader) % 5 == 0 ? "/users" : "/users/\(ids[(count * 7 + reader) % ids.count])"
                            let started = ContinuousClock.now
                            var status: UInt?
                            do {
                                let response = try await http.execute(
                                    HTTPClientRequest(url: base + path), timeout: .seconds(Int64(Self.requestTimeout) + 10)
                                )
                                _ = try await response.body.collect(upTo: 1 << 20)
                                status = response.status.code
                            } catch {
                                status = nil
                            }
                            outcomes.append(Outcome(status: status, seconds: (ContinuousClock.now - started).inSeconds, path: path))
                        }
                        return outcomes
                    }
                }
                try await faults()
                done.set()
                var all: [Outcome] = []
                for try await outcomes in group { all += outcomes }
                return all
            }
        }
    }
}

/// A flag that many tasks read and one sets.
final class StopFlag: Sendable {
    private let value = Atomic(false)
    var isSet: Bool { value.load(ordering: .relaxed) }
    func set() { value.store(true, ordering: .relaxed) }
}

