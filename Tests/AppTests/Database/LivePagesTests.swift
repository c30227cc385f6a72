import AsyncHTTPClient
import Foundation
import PostgresNIO
import Testing

import MultiRegion
import MultiRegionTesting

@testable import App

extension DatabaseTests {
    /// The live pages' streams, from the real App process: raw sockets read the events as they
    /// come, the way a browser's `EventSource` does.
    @Suite("Live pages: server-sent events from the real App process", .serialized, .timeLimit(.minutes(3)))
    struct LivePagesTests {
        let cluster: TestCluster
        static let shutdownTimeout = 4.0

        init() async throws {
            cluster = try TestCluster()
            try await cluster.resetUsers()
            try await cluster.setReplayPaused(false)
        }

        /// An App process in `region` for the length of `body`, stopped (SIGTERM) afterwards.
        func withApp(
            region: String = "ord", useReplica: Bool = true, extra: [String: String] = [:], log: String,
            _ body: (AppProcess) async throws -> Void
        ) async throws {
            let app = try AppProcess(
                environment: cluster.appEnvironment(
                    region: region, primaryRegion: "nrt", useReplica: useReplica,
                    extra: ["SHUTDOWN_TIMEOUT": "\(Self.shutdownTimeout)", "LIVE_HEARTBEAT": "1"].merging(extra) { $1 }
                ),
                logPath: "\(cluster.logDirectory)/\(log)"
            )
            let http = HTTPClient(eventLoopGroupProvider: .singleton)
            do {
                try await app.waitUntilAnswering(http)
                try await body(app)
            } catch {
                app.signal(SIGKILL)
                _ = try? await app.waitForExit(timeout: .seconds(5))
                try? await http.shutdown()
                throw error
            }
            app.signal(SIGTERM)
            _ = try await app.waitForExit(timeout: .seconds(Self.shutdownTimeout + 2))
            try await http.shutdown()
        }

        /// A stream opened on `app`, read up to its `ready` event.
        func openStream(_ app: AppProcess, path: String = "/users/live", headers: [String] = []) throws -> (LoopbackSocket, String) {
            let socket = try LoopbackSocket(port: app.port, timeout: 5)
            try socket.send("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n" + headers.map { $0 + "\r\n" }.joined() + "\r\n")
            let opening = try socket.read(until: "event: ready\ndata: ")
            return (socket, opening + (try socket.read(until: "\n\n")))
        }

        /// Creates a user on the primary, the way a write in the primary region would.
        @discardableResult
        func insertUser(_ name: String) async throws -> Int64 {
            try await cluster.withClient(.primary) { client in
                var id: Int64 = 0
                for try await value in try await client.query("INSERT INTO users (name, age) VALUES (\(name), 30) RETURNING id").decode(Int64.self) {
                    id = value
                }
                return id
            }
        }

        /// The next `changes` event's id and data.
        func nextChanges(_ socket: LoopbackSocket) throws -> (id: String, data: String) {
            _ = try socket.read(until: "event: changes\n")
            let fields = try socket.read(until: "\n\n")
            let id = fields.split(separator: "\n").first { $0.hasPrefix("id: ") }.map { String($0.dropFirst(4)) } ?? ""
            let data = fields.split(separator: "\n").first { $0.hasPrefix("data: ") }.map { String($0.dropFirst(6)) } ?? ""
            return (id, data)
        }

        @Test("A stream in ord says it reads the replica, and sends a user created on the primary once ord's replica has replayed it, not before")
        func changeArrivesAfterReplay() async throws {
            try await withApp(log: "live-replay.log") { app in
                let (socket, opening) = try openStream(app)
                #expect(opening.contains("HTTP/1.1 200"))
                #expect(opening.lowercased().contains("content-type: text/event-stream"))
                #expect(opening.contains(#""source":"replica""#) && opening.contains(#""region":"ord""#))

                try await cluster.setReplayPaused(true)
                do {
                    try await insertUser("Paused Pat")
                    // Heartbeats come (every second here); the change must not while replay waits.
                    let quiet = try socket.read(until: ": heartbeat\n\n") + (try socket.read(until: ": heartbeat\n\n"))
                    #expect(!quiet.contains("Paused Pat"))
                    try await cluster.setReplayPaused(false)
                } catch {
                    try? await cluster.setReplayPaused(false)
                    throw error
                }
                let (id, data) = try nextChanges(socket)
                #expect(LSN(id) != nil, "the event id is a replay position: \(id)")
                #expect(data.contains(#""name":"Paused Pat""#) && data.contains(#""kind":"insert""#))
                #expect(data.contains(#""delayMs":"#))
            }
        }

        @Test("A stream that reconnects with Last-Event-ID gets the changes it missed; a user's own stream gets only that user's")
        func reconnectGetsMissedChanges() async throws {
            try await withApp(log: "live-reconnect.log") { app in
                let (first, _) = try openStream(app)
                try await insertUser("Before Bea")
                let (seen, _) = try nextChanges(first)
                withExtendedLifetime(first) {}

                // While that client is away, two more users; a client that stayed sees them come.
                let (watcher, _) = try openStream(app)
                // Two batches (the second written once the first has arrived), so the comeback
                // merges them: its one event must not be the list streams' shared one of the last.
                let missedID = try await insertUser("Missed Max")
                var arrived = ""
                while !arrived.contains("Missed Max") { arrived += try nextChanges(watcher).data }
                try await insertUser("Missed Mia")
                while !arrived.contains("Missed Mia") { arrived += try nextChanges(watcher).data }

                let (back, _) = try openStream(app, headers: ["Last-Event-ID: \(seen)"])
                var caughtUp = ""
                while !caughtUp.contains("Missed Mia") { caughtUp += try nextChanges(back).data }
                #expect(caughtUp.contains("Missed Max"))
                #expect(!caughtUp.contains("Before Bea"))

                // One user's stream, from the same position: only that user's change.
                let (single, _) = try openStream(app, path: "/users/\(missedID)/live", headers: ["Last-Event-ID: \(seen)"])
                let only = try nextChanges(single).data
                #expect(only.contains("Missed Max") && !only.contains("Missed Mia"))

                // From a position the instance never had: one reload event, then the stream ends.
                let (stale, _) = try openStream(app, headers: ["Last-Event-ID: 0/1"])
                _ = try stale.read(until: "event: reload\n")
                _ = try stale.read(until: "\r\n0\r\n\r\n")  // the chunked body's end
            }
        }

        @Test("Past LIVE_STREAMS_MAX a stream is answered 503 with Retry-After, and the pages still work")
        func streamLimit() async throws {
            try await withApp(extra: ["LIVE_STREAMS_MAX": "2"], log: "live-limit.log") { app in
                let open = try [openStream(app), openStream(app)]
                let refused = try LoopbackSocket(port: app.port, timeout: 5)
                try refused.send("GET /users/live HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                let answer = try refused.readToEnd()
                #expect(answer.hasPrefix("HTTP/1.1 503"), "\(answer.prefix(300))")
                #expect(answer.lowercased().contains("retry-after: "))
                let page = try LoopbackSocket(port: app.port, timeout: 5)
                try page.send("GET /users HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                #expect(try page.readToEnd().hasPrefix("HTTP/1.1 200"))
                withExtendedLifetime(open) {}
            }
        }

        @Test("SIGTERM ends every open stream at once, and the process exits well within its drain bound")
        func shutdownEndsStreams() async throws {
            let app = try AppProcess(
                environment: cluster.appEnvironment(region: "ord", primaryRegion: "nrt", extra: ["SHUTDOWN_TIMEOUT": "\(Self.shutdownTimeout)"]),
                logPath: "\(cluster.logDirectory)/live-shutdown.log"
            )
            let http = HTTPClient(eventLoopGroupProvider: .singleton)
            try await app.waitUntilAnswering(http)
            try await http.shutdown()
            let streams = try (0..<5).map { _ in try openStream(app).0 }
            let stopping = ContinuousClock.now
            app.signal(SIGTERM)
            for stream in streams { _ = try? stream.readToEnd() }  // each ends (the socket's own limit is 5 s)
            let status = try await app.waitForExit(timeout: .seconds(Self.shutdownTimeout + 2))
            let elapsed = ContinuousClock.now - stopping
            if status == nil { app.signal(SIGKILL) }
            #expect(status == 0, "log:\n\(app.log.suffix(1500))")
            #expect(elapsed < .seconds(Self.shutdownTimeout - 1), "took \(elapsed) of the \(Self.shutdownTimeout) s bound")
        }

        @Test("In the primary region (no replica) the stream reads the primary, says so, and sends changes")
        func primaryRegionStream() async throws {
            try await withApp(region: "nrt", useReplica: false, log: "live-primary.log") { app in
                let (socket, opening) = try openStream(app)
                #expect(opening.contains(#""source":"primary""#) && opening.contains(#""region":"nrt""#))
                try await insertUser("Primary Pia")
                #expect(try nextChanges(socket).data.contains("Primary Pia"))
            }
        }
    }
}
