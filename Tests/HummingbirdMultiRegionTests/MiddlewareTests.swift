import Configuration
import HTTPTypes
import Hummingbird
import HummingbirdMultiRegion
import HummingbirdTesting
import Logging
import MultiRegion
import MultiRegionTesting
import PostgresNIO
import Testing

/// The middleware through its public API only, on `BasicMultiRegionRequestContext`, against
/// the real primary and streaming replica that `scripts/test` starts.
@Suite("The multi-region middleware on a bare Hummingbird app, against the real primary and replica", .serialized)
struct MiddlewareTests {
    let cluster: TestCluster

    init() async throws {
        cluster = try TestCluster()
        try await cluster.withClient(.primary) { client in
            try await client.run("CREATE TABLE IF NOT EXISTS middleware_notes (id bigserial PRIMARY KEY, body text NOT NULL)")
            try await client.run("TRUNCATE middleware_notes")
        }
        try await cluster.waitForReplicaToCatchUp()
    }

    /// A bare app: `/notes` reads and writes through `context.database`; `/touch` is a GET
    /// that writes; `/search` is a POST that only reads.
    private func withApp(
        region: String, writeMode: WriteMode, _ test: @Sendable (any TestClientProtocol, MultiRegionDatabase) async throws -> Void
    ) async throws {
        var logger = Logger(label: "middleware-test")
        logger.logLevel = .warning
        let database = try MultiRegionDatabase(
            configuration: try cluster.configuration(region: region, primaryRegion: "nrt", writeMode: writeMode), logger: logger
        )
        let router = Router(context: BasicMultiRegionRequestContext.self)
        HealthRoutes(database: database).addRoutes(to: router)
        let secret = String(repeating: "middleware-", count: 4)
        let notes = router.group("notes").add(middleware: MultiRegionMiddleware(database: database, cookieSecret: secret))
        notes.get { _, context in try await Self.list(context) }
        notes.post { request, context in
            let body = String(buffer: try await request.body.collect(upTo: 1000))
            try await context.database.write { try await $0.run("INSERT INTO middleware_notes (body) VALUES (\(body))") }
            return Response.redirect(to: "/notes", type: .normal)
        }
        router.group("touch").add(middleware: MultiRegionMiddleware(database: database, cookieSecret: secret, kind: .writes))
            .get { _, context in
                try await context.database.write { try await $0.run("INSERT INTO middleware_notes (body) VALUES ('touched')") }
                return "touched"
            }
        router.group("search").add(middleware: MultiRegionMiddleware(database: database, cookieSecret: secret, kind: .reads))
            .post { _, context in try await Self.list(context) }
        var app = Application(router: router, logger: logger)
        app.addServices(database)
        try await app.test(.router) { client in
            _ = await database.tracker?.firstStatus()
            try await test(client, database)
        }
    }

    /// The notes, and the database that answered, one per line.
    private static func list(_ context: BasicMultiRegionRequestContext) async throws -> String {
        let database = try context.database
        let bodies = try await database.read { connection in
            try await connection.query("SELECT body FROM middleware_notes ORDER BY id", logger: Logger(label: "test"))
                .decode(String.self).reduce(into: [String]()) { $0.append($1) }
        }
        return (["from \(database.answeredBy?.rawValue ?? "nowhere")"] + bodies).joined(separator: "\n")
    }

    @Test("In replay mode outside the primary region a write is a 409 with fly-replay, and touches no database")
    func replayWrite() async throws {
        try await withApp(region: "ord", writeMode: .replay) { client, _ in
            let response = try await client.execute(uri: "/notes", method: .post, body: ByteBuffer(string: "x"))
            #expect(response.status == .conflict)
            #expect(response.headers[HTTPField.Name("fly-replay")!] == "region=nrt;state=write;timeout=6000ms;fallback=force_self")
            let replayed = try await client.execute(
                uri: "/notes", method: .post, headers: [HTTPField.Name("fly-replay-src")!: "instance=a;region=ord;state=write"],
                body: ByteBuffer(string: "x")
            )
            #expect(replayed.status == .serviceUnavailable, "a request replayed once is never replayed again")
        }
    }

    @Test("A write sets the position cookie from the middleware; the next read waits for the replica and then clears it")
    func readYourWrites() async throws {
        try await withApp(region: "ord", writeMode: .direct) { client, _ in
            let written = try await client.execute(uri: "/notes", method: .post, body: ByteBuffer(string: "mine"))
            #expect(written.status == .seeOther)
            let cookie = try #require(written.headers[values: .setCookie].first { $0.hasPrefix("wal=") })
            let read = try await client.execute(
                uri: "/notes", method: .get, headers: [.cookie: String(cookie.split(separator: ";")[0])]
            )
            #expect(String(buffer: read.body) == "from replica\nmine")
            #expect(read.headers[values: .setCookie].contains { $0.hasPrefix("wal=;") }, "the cookie has done its work")
        }
    }

    @Test("With replay paused, a reader's own write comes from the primary in direct mode, never stale")
    func staleFallsBack() async throws {
        try await withApp(region: "ord", writeMode: .direct) { client, _ in
            try await cluster.setReplayPaused(true)
            do {
                let written = try await client.execute(uri: "/notes", method: .post, body: ByteBuffer(string: "fresh"))
                let cookie = try #require(written.headers[values: .setCookie].first { $0.hasPrefix("wal=") })
                let read = try await client.execute(uri: "/notes", method: .get, headers: [.cookie: String(cookie.split(separator: ";")[0])])
                #expect(String(buffer: read.body) == "from primary\nfresh")
                let stranger = try await client.execute(uri: "/notes", method: .get)
                #expect(String(buffer: stranger.body) == "from replica", "without the cookie the replica answers, without the write")
                try await cluster.setReplayPaused(false)
            } catch {
                try? await cluster.setReplayPaused(false)
                throw error
            }
        }
    }

    @Test("Route kinds: a GET that writes replays to the primary, a POST that only reads stays in its region")
    func routeKinds() async throws {
        try await withApp(region: "ord", writeMode: .replay) { client, _ in
            let touch = try await client.execute(uri: "/touch", method: .get)
            #expect(touch.status == .conflict)
            #expect(touch.headers[HTTPField.Name("fly-replay")!] == "region=nrt;state=write;timeout=6000ms;fallback=force_self")
            let search = try await client.execute(uri: "/search", method: .post)
            #expect(search.status == .ok)
            #expect(String(buffer: search.body).hasPrefix("from replica"))
        }
        try await withApp(region: "ord", writeMode: .direct) { client, _ in
            let touch = try await client.execute(uri: "/touch", method: .get)
            #expect(touch.status == .ok, "in direct mode the write runs on the primary from here")
            #expect(touch.headers[values: .setCookie].contains { $0.hasPrefix("wal=") && !$0.hasPrefix("wal=;") })
        }
    }

    @Test("Health routes pass through untouched: /healthz always, /readyz says where reads go")
    func health() async throws {
        try await withApp(region: "ord", writeMode: .replay) { client, _ in
            let live = try await client.execute(uri: "/healthz", method: .get)
            #expect(live.status == .ok)
            #expect(live.headers[values: .setCookie].isEmpty)
            let ready = try await client.execute(uri: "/readyz", method: .get)
            #expect(ready.status == .ok)
            #expect(String(buffer: ready.body).hasPrefix("ready: replica"))
        }
    }
}
