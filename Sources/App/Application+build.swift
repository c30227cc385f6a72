import ServiceLifecycle
import Configuration
import Hummingbird
import Logging
import PostgresNIO

/// Reads the configuration and builds the application; called by `serve` and by the tests.
func buildApplication(reader: ConfigReader) throws -> some ApplicationProtocol {
    let configuration = try AppConfiguration(reader: reader)
    return buildApplication(configuration: configuration)
}

/// Everything the routes need, built once from the configuration.
struct AppDependencies: Sendable {
    let configuration: AppConfiguration
    let databases: Databases
    let tracker: ReplicaTracker?
    let logger: Logger

    /// Upper bound for one database call, lease included; keeps requests from hanging when a
    /// database stops answering.
    static let databaseTimeout: Duration = .seconds(4)
    /// Connections kept open to the database that serves reads, and to a remote primary.
    static let readPoolSize = 10
    static let writePoolSize = 4

    init(configuration: AppConfiguration) {
        var logger = Logger(label: "users")
        logger.logLevel = configuration.logLevel
        logger[metadataKey: "region"] = "\(configuration.regions.region)"
        self.logger = logger
        self.configuration = configuration

        let connectTimeout: Duration = .seconds(3)
        let replicaURL = configuration.replicaURL
        // The client that serves the reads gets the larger pool; in a replica region the
        // primary only takes writes and read-your-writes fallbacks.
        let primary = PostgresClient(
            configuration: configuration.primaryURL.clientConfiguration(
                connectTimeout: connectTimeout,
                maximumConnections: replicaURL == nil ? Self.readPoolSize : Self.writePoolSize,
                fixedPoolSize: true
            ),
            backgroundLogger: logger
        )
        let replica = replicaURL.map {
            PostgresClient(
                configuration: $0.clientConfiguration(connectTimeout: connectTimeout, maximumConnections: Self.readPoolSize, fixedPoolSize: true),
                backgroundLogger: logger
            )
        }
        self.databases = Databases(primary: primary, replica: replica)
        self.tracker = replica.map { ReplicaTracker(replica: $0, primary: primary, logger: logger) }
    }

    /// The router with every route and middleware, in the order a request passes them.
    ///
    /// `addPages` can add routes that get the same middleware as the users pages (tests use it).
    func buildRouter(addPages: (RouterGroup<AppRequestContext>) -> Void = { _ in }) -> Router<AppRequestContext> {
        let renderer = PageRenderer(regions: configuration.regions, tracker: tracker)
        let signer = CookieSigner(key: configuration.cookieKey)
        let readYourWrites = ReadYourWrites(signer: signer)

        let router = Router(context: AppRequestContext.self)
        // Every response: the region header, HTML error pages, the stylesheet.
        router.add(middleware: RegionHeaderMiddleware(region: configuration.regions.region))
        router.add(middleware: RequestLogMiddleware())
        router.add(middleware: FlyRequestMiddleware())
        router.add(middleware: ErrorPageMiddleware(renderer: renderer))
        router.add(middleware: FileMiddleware(configuration.publicDirectory, urlBasePath: "/assets", logger: logger))

        HealthController(tracker: tracker, maxReplicaLag: configuration.maxReplicaLag).addRoutes(to: router)

        // The pages: flash messages, cross-site form check, write routing, then the choice of
        // database for reads.
        let pages = router.group()
            .add(middleware: FlashMiddleware(flash: Flash(signer: signer)))
            .add(middleware: CrossSiteWriteMiddleware())
            .add(middleware: WriteRoutingMiddleware(regions: configuration.regions, mode: configuration.writeMode))
            .add(middleware: ReadRoutingMiddleware(
                regions: configuration.regions,
                mode: configuration.writeMode,
                tracker: tracker,
                readYourWrites: readYourWrites,
                waitTimeout: configuration.readYourWritesTimeout
            ))
        UsersController(
            accounts: PostgresAccounts(databases: databases, timeout: Self.databaseTimeout, logger: logger),
            renderer: renderer,
            flash: Flash(signer: signer),
            afterWrite: { response, lsn in readYourWrites.remember(lsn, in: &response) }
        ).addRoutes(to: pages)
        addPages(pages)
        return router
    }

    /// The database clients and the tracker, as services of the application.
    var services: [any Service] {
        databases.services + (tracker.map { [$0] } ?? [])
    }
}

/// Builds the application from a validated configuration.
func buildApplication(configuration: AppConfiguration) -> some ApplicationProtocol {
    let dependencies = AppDependencies(configuration: configuration)
    return buildApplication(dependencies, router: dependencies.buildRouter())
}

/// Builds the application around a router; tests use this to add routes of their own.
func buildApplication(_ dependencies: AppDependencies, router: Router<AppRequestContext>) -> some ApplicationProtocol {
    let configuration = dependencies.configuration
    var app = Application(
        router: MethodOverrideRouter(router: router, maximumBody: WriteRoutingMiddleware.maximumReplayableBody),
        configuration: .init(
            address: .hostname(configuration.host, port: configuration.port),
            serverName: "users"
        ),
        logger: dependencies.logger
    )
    app.addServices(dependencies.services)
    app.beforeServerStarts {
        dependencies.logger.info(
            "Starting",
            metadata: [
                "primary_region": "\(configuration.regions.primaryRegion)",
                "write_mode": "\(configuration.writeMode.rawValue)",
                "reads": "\(configuration.replicaURL == nil ? "primary" : "replica")",
            ]
        )
    }
    return app
}
