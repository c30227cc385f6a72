import ServiceLifecycle
import Configuration
import EarlyAnswer
import Hummingbird
import Logging
import NIOCore
import NIOPosix
import PostgresNIO

/// Everything the routes need, built once from the configuration.
struct AppDependencies: Sendable {
    let configuration: AppConfiguration
    let databases: Databases
    let tracker: ReplicaTracker?
    /// The replica pool that only the tracker uses.
    private let trackerPool: DatabasePool?
    let logger: Logger
    /// The event loops of the server, the database connections and the metrics server.
    let eventLoopGroup: any EventLoopGroup
    /// The timers of every deadline: requests, database calls, read-your-writes waits.
    let deadlines: DeadlineTimers
    /// Requests whose work is still running, for the log of a forced exit.
    let inFlight = InFlightRequests()
    /// The Prometheus metrics, served on `METRICS_PORT`.
    let metrics: AppMetrics
    let renderer: PageRenderer

    /// At most this many connections to the database that serves reads, and to a remote
    /// primary; one of each is kept open (see `DatabasePool`). The README's connection
    /// budget is computed from these.
    static let readPoolSize = 10
    static let writePoolSize = 4

    init(configuration: AppConfiguration) throws {
        var logger: Logger
        switch configuration.logFormat {
        case .text:
            let output = LogOutput.standardError()
            logger = Logger(label: "users") { TextLogHandler(label: $0, output: output) }
        case .json:
            let output = LogOutput.standardOutput()
            logger = Logger(label: "users") { JSONLogHandler(label: $0, output: output) }
        }
        logger.logLevel = configuration.logLevel
        logger[metadataKey: "region"] = "\(configuration.regions.region)"
        self.logger = logger
        self.configuration = configuration
        let eventLoopGroup = MultiThreadedEventLoopGroup.singleton
        self.eventLoopGroup = eventLoopGroup
        let deadlines = DeadlineTimers(eventLoop: eventLoopGroup.next())
        self.deadlines = deadlines
        let metrics = AppMetrics(region: configuration.regions.region)
        self.metrics = metrics

        let connectTimeout: Duration = .seconds(3)
        let replicaURL = configuration.replicaURL
        // The pool that serves the reads is the larger one; in a replica region the primary
        // only takes writes and read-your-writes fallbacks.
        let primary = DatabasePool(
            configuration: try configuration.primaryURL.poolConfiguration(
                maximumConnections: replicaURL == nil ? Self.readPoolSize : Self.writePoolSize,
                connectTimeout: connectTimeout
            ),
            eventLoopGroup: eventLoopGroup,
            timers: deadlines,
            logger: logger,
            connectionsChanged: { metrics.databaseConnections(role: .primary, open: $0) }
        )
        let replica = try replicaURL.map {
            DatabasePool(
                configuration: try $0.poolConfiguration(maximumConnections: Self.readPoolSize, connectTimeout: connectTimeout),
                eventLoopGroup: eventLoopGroup,
                timers: deadlines,
                logger: logger,
                connectionsChanged: { metrics.databaseConnections(role: .replica, open: $0) }
            )
        }
        self.databases = Databases(primary: primary, replica: replica)
        // The tracker polls the replica through a connection of its own: its polls never wait
        // behind requests for a pooled connection, and a replica that is down shows at once.
        self.trackerPool = try replicaURL.map {
            DatabasePool(
                configuration: try $0.poolConfiguration(maximumConnections: 1, connectTimeout: connectTimeout),
                eventLoopGroup: eventLoopGroup,
                timers: deadlines,
                logger: logger
            )
        }
        self.tracker = trackerPool.map {
            ReplicaTracker(replica: $0, primary: primary, timers: deadlines, metrics: metrics, logger: logger)
        }
        self.renderer = PageRenderer(regions: configuration.regions, tracker: tracker)
    }

    /// The router with every route and middleware, in the order a request passes them.
    ///
    /// `addPages` can add routes that get the same middleware as the users pages (tests use it).
    func buildRouter(addPages: (RouterGroup<AppRequestContext>) -> Void = { _ in }) -> Router<AppRequestContext> {
        let signer = CookieSigner(key: configuration.cookieKey)
        let readYourWrites = ReadYourWrites(signer: signer)

        let router = Router(context: AppRequestContext.self)
        // Every response: the region header, HTML error pages, the stylesheet.
        router.add(middleware: RegionHeaderMiddleware(region: configuration.regions.region))
        router.add(middleware: RequestLogMiddleware())
        router.add(middleware: RequestMetricsMiddleware(metrics: metrics))
        router.add(middleware: FlyRequestMiddleware())
        router.add(middleware: ErrorPageMiddleware(renderer: renderer))
        router.add(middleware: FileMiddleware(configuration.publicDirectory, urlBasePath: "/assets", logger: logger))

        HealthController(tracker: tracker, maxReplicaLag: configuration.maxReplicaLag).addRoutes(to: router)
        // Browsers that do not read the page's icon link ask here.
        router.get("/favicon.ico") { _, _ in Response.redirect(to: "/assets/favicon.svg", type: .permanent) }

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
                waitTimeout: configuration.readYourWritesTimeout,
                metrics: metrics
            ))
        UsersController(
            accounts: PostgresAccounts(
                databases: databases, timeout: configuration.databaseTimeout, timers: deadlines, metrics: metrics, logger: logger
            ),
            renderer: renderer,
            flash: Flash(signer: signer),
            metrics: metrics,
            afterWrite: { response, lsn in readYourWrites.remember(lsn, in: &response) }
        ).addRoutes(to: pages)
        addPages(pages)
        return router
    }

    /// The database clients and the tracker, as services of the application.
    var services: [any Service] {
        var services = databases.services + (trackerPool.map { [$0] } ?? []) + (tracker.map { [$0] } ?? [])
        if let port = configuration.metricsPort {
            services.append(
                MetricsServer.application(metrics: metrics, host: configuration.host, port: port, eventLoopGroup: eventLoopGroup, logger: logger)
            )
        }
        return services
    }

    /// The answer for a request that ran out of time: a 503 page that asks to retry.
    @Sendable func deadlineResponse(_ request: Request, context: AppRequestContext) -> Response {
        metrics.requestDeadlineExceeded()
        var response = renderer.errorPage(
            .serviceUnavailable,
            title: "Taking too long",
            message: "This page took longer than \(configuration.requestTimeout.inSeconds) seconds, so the app stopped waiting. If you were saving, check whether the change was made before trying again.",
            context: context
        )
        response.headers[.retryAfter] = "5"
        response.headers[RegionHeaderMiddleware<AppRequestContext>.header] = configuration.regions.region
        return response
    }
}

/// Builds the application from a validated configuration, with the app's routes only.
func buildApplication(configuration: AppConfiguration) throws -> some ApplicationProtocol {
    let dependencies = try AppDependencies(configuration: configuration)
    return buildApplication(dependencies, router: dependencies.buildRouter())
}

/// Builds the application around a router; called by `serve` and by the tests, which add
/// routes of their own.
func buildApplication(_ dependencies: AppDependencies, router: Router<AppRequestContext>) -> some ApplicationProtocol {
    let configuration = dependencies.configuration
    let responder = AppResponderBuilder(router: router, dependencies: dependencies)
    var app = Application(
        router: responder,
        server: .http1(additionalChannelHandlers: [EarlyAnswerHandler()]),
        configuration: .init(
            address: .hostname(configuration.host, port: configuration.port),
            serverName: "users"
        ),
        eventLoopGroupProvider: .shared(dependencies.eventLoopGroup),
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

/// The router wrapped in what must hold for every request, outermost first: the security
/// headers, the request deadline, and `_method` (applied before routing, which picks a route
/// by method before any router middleware runs).
struct AppResponderBuilder: HTTPResponderBuilder {
    let router: Router<AppRequestContext>
    let dependencies: AppDependencies

    func buildResponder() -> SecurityHeadersResponder<RequestDeadlineResponder<MethodOverrideResponder<Router<AppRequestContext>.Responder>>> {
        SecurityHeadersResponder(
            next: RequestDeadlineResponder(
                next: MethodOverrideResponder(next: router.buildResponder(), maximumBody: WriteRoutingMiddleware.maximumReplayableBody),
                timeout: dependencies.configuration.requestTimeout,
                timers: dependencies.deadlines,
                inFlight: dependencies.inFlight,
                timeoutResponse: dependencies.deadlineResponse
            )
        )
    }
}
