import Configuration
import Hummingbird
import HummingbirdMultiRegion
import Logging
import NIOCore
import NIOPosix
import MultiRegion
import ServiceLifecycle

/// Everything the routes need, built once from the configuration.
struct AppDependencies: Sendable {
    let configuration: AppConfiguration
    /// The primary, this region's replica and its tracker (the multi-region library).
    let database: MultiRegionDatabase
    let logger: Logger
    /// The event loops of the server, the database connections and the metrics server.
    let eventLoopGroup: any EventLoopGroup
    /// The timers of every deadline: requests, database calls, read-your-writes waits.
    var deadlines: DeadlineTimers { database.timers }
    /// Requests whose work is still running, for the log of a forced exit.
    let inFlight: InFlightRequests
    /// The Prometheus metrics, served on `METRICS_PORT`.
    let metrics: AppMetrics
    let renderer: PageRenderer
    /// The users changes this region's database replays, for the live pages.
    let feed: ChangeFeed<UserChangeLog>

    /// The replica tracker; `nil` when reads go to the primary.
    var tracker: ReplicaTracker? { database.tracker }

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
        self.inFlight = InFlightRequests(deadline: configuration.requestTimeout)
        let eventLoopGroup = MultiThreadedEventLoopGroup.singleton
        self.eventLoopGroup = eventLoopGroup
        let metrics = AppMetrics(regions: configuration.regions)
        self.metrics = metrics
        let database = try MultiRegionDatabase(
            configuration: configuration.multiRegion, logger: logger, metricsFactory: metrics.factory, eventLoopGroup: eventLoopGroup
        )
        self.database = database
        self.renderer = PageRenderer(database: database)
        var feedConfiguration = ChangeFeed<UserChangeLog>.Configuration()
        feedConfiguration.maximumSubscribers = configuration.liveStreamLimit
        feedConfiguration.heartbeatInterval = configuration.liveHeartbeat
        self.feed = ChangeFeed(name: "users", log: UserChangeLog(), database: database, configuration: feedConfiguration)
    }

    /// The router with every route and middleware, in the order a request passes them.
    ///
    /// `addPages` can add routes that get the same middleware as the users pages (tests use it).
    func buildRouter(addPages: (RouterGroup<AppRequestContext>) -> Void = { _ in }) -> Router<AppRequestContext> {
        let signer = CookieSigner(key: configuration.cookieKey)

        // What every request needs (Fly's facts, the region and security headers, the metrics
        // and log line) is `AppResponder`'s, around this router, in one step; the error pages
        // are the router's one middleware (the router answers the errors that reach it).
        let router = Router(context: AppRequestContext.self)
        // Health checks answer plain text and never throw: they sit before the error pages.
        HealthRoutes(database: database).addRoutes(to: router)
        router.add(middleware: ErrorPageMiddleware(renderer: renderer))
        // The live pages' streams: GETs that stay in this region (never replayed), so they
        // skip the pages' write routing and read-your-writes.
        LiveController(feed: feed, regions: configuration.regions).addRoutes(to: router)
        // Browsers that do not read the page's icon link ask here.
        router.get("/favicon.ico") { _, _ in Response.redirect(to: "/assets/favicon.svg", type: .permanent) }

        // The pages: flash messages, cross-site form check, then write routing, the choice of
        // database for reads and read-your-writes.
        let pages = router.group()
            .add(middleware: FlashMiddleware(flash: Flash(signer: signer)))
            .add(middleware: CrossSiteWriteMiddleware())
            .add(middleware: MultiRegionMiddleware(database: database, cookieKey: configuration.cookieKey))
        UsersController(accounts: PostgresAccounts(logger: logger), renderer: renderer, flash: Flash(signer: signer), feed: feed)
            .addRoutes(to: pages)
        addPages(pages)

        // The stylesheet and icons, last: a router's middleware wraps the routes added after
        // it, and every request that matches no route. Here it wraps only the latter, so a
        // page or health check never looks for a file first.
        router.add(middleware: FileMiddleware(configuration.publicDirectory, urlBasePath: "/assets", logger: logger))
        return router
    }

    /// The databases and the metrics server, as services of the application.
    var services: [any Service] {
        // Graceful shutdown goes last to first: the feed stops before the databases close.
        var services: [any Service] = [database, feed]
        if let port = configuration.metricsPort {
            services.append(
                MetricsServer.application(metrics: metrics, host: configuration.host, port: port, eventLoopGroup: eventLoopGroup, logger: logger)
            )
        }
        return services
    }

    /// The answer for a request that ran out of time: a 503 page that asks to retry (made on
    /// the request's connection by `EarlyAnswerHandler`, while the work goes on).
    @Sendable func deadlineAnswer(_ request: HTTPRequest) -> (HTTPResponse, ByteBuffer) {
        metrics.requestDeadlineExceeded()
        let path = request.path.map { $0.prefix { $0 != "?" } } ?? ""
        logger.warning(
            "Request deadline exceeded; answered 503",
            metadata: ["method": "\(request.method)", "path": "\(path)", "timeout_s": "\(configuration.requestTimeout.inSeconds)"]
        )
        let html = renderer.errorHTML(
            title: "Taking too long",
            message: "This page took longer than \(configuration.requestTimeout.inSeconds) seconds, so the app stopped waiting. If you were saving, check whether the change was made before trying again."
        )
        var response = HTTPResponse(status: .serviceUnavailable)
        response.headerFields[.contentType] = "text/html; charset=utf-8"
        response.headerFields[.cacheControl] = "no-store"
        response.headerFields[.retryAfter] = "5"
        response.headerFields[AppResponder.servedRegion] = configuration.regions.region
        SecurityHeaders.secure(&response.headerFields, overHTTPS: SecurityHeaders.isHTTPS(request.headerFields))
        return (response, ByteBuffer(bytes: html.utf8))
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
        server: .http1WithEarlyAnswers(
            requestDeadline: RequestDeadline(timeout: configuration.requestTimeout, timers: dependencies.deadlines, answer: dependencies.deadlineAnswer)
        ),
        // No `serverName:`: `AppResponder` adds `Server: users` with its other fields, made
        // once (Hummingbird sets it by name on every response, a look-up and a check of the text).
        configuration: .init(address: .hostname(configuration.host, port: configuration.port)),
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
