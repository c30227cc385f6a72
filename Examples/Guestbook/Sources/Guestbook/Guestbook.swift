import Configuration
import Hummingbird
import HummingbirdMultiRegion
import Logging
import MultiRegion
import PostgresNIO

/// A guestbook in every region: entries are read from this region's replica and written on
/// the primary, and a visitor always sees their own entry. The lines marked `// multi-region`
/// are all it takes.
///
/// Configuration: the multi-region keys (`DATABASE_URL`, `REPLICA_DATABASE_URL`, `FLY_REGION`,
/// `PRIMARY_REGION`, `WRITE_MODE`, …), `SECRET_KEY_BASE`, `HOST` and `PORT`.
public func buildGuestbook(reader: ConfigReader, logger: Logger = Logger(label: "guestbook")) throws -> some ApplicationProtocol {
    let database = try MultiRegionDatabase(configuration: try MultiRegionConfiguration(reader: reader), logger: logger)  // multi-region
    let secret = reader.string(forKey: "secret.key.base", isSecret: true) ?? reader.string(forKey: "database.url", isSecret: true) ?? ""  // multi-region
    let router = Router(context: BasicMultiRegionRequestContext.self)  // multi-region
    router.add(middleware: RegionHeaderMiddleware(region: database.regions.region))  // multi-region
    HealthRoutes(database: database).addRoutes(to: router)  // multi-region
    let pages = router.group().add(middleware: MultiRegionMiddleware(database: database, cookieSecret: secret))  // multi-region
    EntriesController(logger: logger).addRoutes(to: pages)
    var app = Application(
        router: router,
        server: .http1WithEarlyAnswers(),  // multi-region
        configuration: .init(address: .hostname(reader.string(forKey: "host", default: "127.0.0.1"), port: reader.int(forKey: "port", default: 8080))),
        logger: logger
    )
    app.addServices(database)  // multi-region
    return app
}

/// The guestbook's pages: the list and the form's target.
struct EntriesController: Sendable {
    typealias Context = BasicMultiRegionRequestContext
    let logger: Logger

    func addRoutes(to group: RouterGroup<Context>) {
        group.get("/") { _, _ in Response.redirect(to: "/entries") }
        group.get("/entries", use: list)
        group.post("/entries", use: create)
    }

    /// The newest entries, and which region and database served them.
    @Sendable func list(_ request: Request, context: Context) async throws -> String {
        let logger = self.logger
        let database = try context.database
        let entries = try await database.read { connection in
            var lines: [String] = []
            let rows = try await connection.query("SELECT body, region FROM entries ORDER BY id DESC LIMIT 50", logger: logger)
            for try await (body, region) in rows.decode((String, String).self) { lines.append("- \(body) (written in \(region))") }
            return lines
        }
        let served = "Guestbook, served in \(database.regions.region), read from the \(database.answeredBy?.rawValue ?? "replica")"
        return ([served] + entries).joined(separator: "\n") + "\n"
    }

    /// Adds an entry (form field `body`, 1 to 280 characters), then shows the list.
    @Sendable func create(_ request: Request, context: Context) async throws -> Response {
        struct Form: Decodable { let body: String }
        guard let form = try? await URLEncodedFormDecoder().decode(Form.self, from: request, context: context),
            (1...280).contains(form.body.count)
        else { throw HTTPError(.badRequest, message: "An entry is 1 to 280 characters.") }
        let database = try context.database
        let region = database.regions.region
        // PostgresNIO's interpolation binds both values as parameters.
        try await database.write { try await $0.run("INSERT INTO entries (body, region) VALUES (\(form.body), \(region))") }
        return Response.redirect(to: "/entries", type: .normal)
    }
}
