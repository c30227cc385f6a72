import Configuration
import Crypto
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Logging
import MultiRegion

/// Everything the app reads from its environment, validated once at start-up.
///
/// Only the composition root builds this; everything else receives the parts it needs.
struct AppConfiguration: Sendable {
    /// The databases, the regions and their bounds (the multi-region library's keys).
    var multiRegion: MultiRegionConfiguration
    /// The longest a request may take before it is answered with a 503 page
    /// (`REQUEST_TIMEOUT`, seconds).
    var requestTimeout: Duration
    /// How long a stopping server drains in-flight requests before it exits anyway
    /// (`SHUTDOWN_TIMEOUT`, seconds); keep it below `kill_timeout` in fly.toml.
    var shutdownTimeout: Duration
    /// The key that signs cookies (`SECRET_KEY_BASE`, or derived from `DATABASE_URL`).
    var cookieKey: SymmetricKey
    /// The address to listen on (`HOST`, default `::` for IPv4 and IPv6).
    var host: String
    /// The port to listen on (`PORT`, default 8080).
    var port: Int
    /// `LOG_LEVEL`, default `info`.
    var logLevel: Logger.Level
    /// `LOG_FORMAT`: `text` (default, for people) or `json` (one object per line, for log shippers).
    var logFormat: LogFormat
    /// The port of the Prometheus endpoint (`METRICS_PORT`, default 9091; `off` for none).
    var metricsPort: Int?
    /// The folder with the stylesheet and other static files.
    var publicDirectory: String
    /// The most live-page streams one instance holds open (`LIVE_STREAMS_MAX`, default 1000);
    /// past it a stream is answered 503 with `Retry-After`.
    var liveStreamLimit: Int
    /// How often a quiet live stream sends a heartbeat (`LIVE_HEARTBEAT`, seconds, default 15;
    /// Fly's proxy closes a connection idle for 60 s).
    var liveHeartbeat: Duration

    static let defaultPort = 8080
    static let defaultMetricsPort = 9091

    /// The primary, which takes every write (`DATABASE_URL`).
    var primaryURL: DatabaseURL { multiRegion.primaryURL }
    /// This region's read replica; `nil` when reads go to the primary.
    var replicaURL: DatabaseURL? { multiRegion.replicaURL }
    /// Where this instance runs and where the primary is.
    var regions: RegionInfo { multiRegion.regions }
    /// How writes reach the primary from other regions (`WRITE_MODE`).
    var writeMode: WriteMode { multiRegion.writeMode }
    /// The longest one database call may take (`DATABASE_TIMEOUT`).
    var databaseTimeout: Duration { multiRegion.databaseTimeout }

    /// Reads and validates the configuration.
    ///
    /// Keys (environment variables): those of `MultiRegionConfiguration` (`DATABASE_URL`,
    /// `REPLICA_DATABASE_URL`, `FLY_REGION`, `PRIMARY_REGION`, `WRITE_MODE`,
    /// `READ_YOUR_WRITES_TIMEOUT`, `MAX_REPLICA_LAG`, `DATABASE_TIMEOUT`), and:
    /// - `REQUEST_TIMEOUT` (seconds, default 5, more than `DATABASE_TIMEOUT`),
    ///   `SHUTDOWN_TIMEOUT` (seconds, default 10).
    /// - `SECRET_KEY_BASE`: at least 32 characters; optional.
    /// - `HOST` (default `::`), `PORT` (default 8080), `LOG_LEVEL` (default `info`), `PUBLIC_DIR`.
    /// - `LOG_FORMAT` (`text` or `json`), `METRICS_PORT` (default 9091, or `off`).
    /// - `LIVE_STREAMS_MAX` (default 1000), `LIVE_HEARTBEAT` (seconds, default 15, 1 to 50).
    init(reader: ConfigReader) throws(ConfigurationError) {
        self.multiRegion = try MultiRegionConfiguration(reader: reader)
        self.requestTimeout = try reader.seconds(forKey: "request.timeout", name: "REQUEST_TIMEOUT", default: .seconds(5))
        self.shutdownTimeout = try reader.seconds(forKey: "shutdown.timeout", name: "SHUTDOWN_TIMEOUT", default: .seconds(10))
        guard requestTimeout > .zero else {
            throw .invalid("REQUEST_TIMEOUT", reason: "must be more than 0 seconds")
        }
        // Fly's proxy must not give a write back while the primary region may still run it.
        if reader.nonEmptyString(forKey: "replay.timeout") == nil {
            multiRegion.replayTimeout = requestTimeout + .seconds(1)
        }
        guard multiRegion.databaseTimeout < requestTimeout else {
            throw .invalid("DATABASE_TIMEOUT", reason: "must be more than 0 and less than REQUEST_TIMEOUT (\(requestTimeout.inSeconds) s)")
        }

        if let secret = reader.nonEmptyString(forKey: "secret.key.base", isSecret: true) {
            guard secret.utf8.count >= 32 else {
                throw .invalid("SECRET_KEY_BASE", reason: "must be at least 32 characters long")
            }
            self.cookieKey = Self.deriveKey(from: secret)
        } else {
            // Every instance of the app shares DATABASE_URL, and it is as secret as the data the
            // cookies point at, so it is a workable default key.
            self.cookieKey = Self.deriveKey(from: reader.nonEmptyString(forKey: "database.url", isSecret: true) ?? "")
        }

        self.host = reader.nonEmptyString(forKey: "host") ?? "::"
        if let portText = reader.nonEmptyString(forKey: "port") {
            guard let port = Int(portText), (1...65535).contains(port) else {
                throw .invalid("PORT", reason: "must be a number from 1 to 65535")
            }
            self.port = port
        } else {
            self.port = Self.defaultPort
        }
        if let levelText = reader.nonEmptyString(forKey: "log.level") {
            guard let level = Logger.Level(rawValue: levelText.lowercased()) else {
                throw .invalid("LOG_LEVEL", reason: "must be one of trace, debug, info, notice, warning, error, critical")
            }
            self.logLevel = level
        } else {
            self.logLevel = .info
        }
        self.publicDirectory = reader.nonEmptyString(forKey: "public.dir") ?? "Public"
        if let formatText = reader.nonEmptyString(forKey: "log.format") {
            guard let format = LogFormat(rawValue: formatText.lowercased()) else {
                throw .invalid("LOG_FORMAT", reason: "must be text or json")
            }
            self.logFormat = format
        } else {
            self.logFormat = .text
        }
        switch reader.nonEmptyString(forKey: "metrics.port")?.lowercased() {
        case nil:
            self.metricsPort = Self.defaultMetricsPort
        case "off":
            self.metricsPort = nil
        case let text?:
            guard let port = Int(text), (1...65535).contains(port), port != self.port else {
                throw .invalid("METRICS_PORT", reason: "must be a port from 1 to 65535 other than PORT, or off")
            }
            self.metricsPort = port
        }
        if let text = reader.nonEmptyString(forKey: "live.streams.max") {
            guard let limit = Int(text), (0...100_000).contains(limit) else {
                throw .invalid("LIVE_STREAMS_MAX", reason: "must be a number from 0 to 100000")
            }
            self.liveStreamLimit = limit
        } else {
            self.liveStreamLimit = 1000
        }
        self.liveHeartbeat = try reader.seconds(forKey: "live.heartbeat", name: "LIVE_HEARTBEAT", default: .seconds(15))
        guard liveHeartbeat >= .seconds(1), liveHeartbeat <= .seconds(50) else {
            throw .invalid("LIVE_HEARTBEAT", reason: "must be from 1 to 50 seconds (Fly's proxy closes a connection idle for 60 s)")
        }
    }

    private static func deriveKey(from secret: String) -> SymmetricKey {
        SymmetricKey(data: SHA256.hash(data: Data("fly-multiregion-users cookies\0\(secret)".utf8)))
    }
}

/// How log lines are written.
enum LogFormat: String, Sendable {
    /// swift-log's plain lines, for a terminal.
    case text
    /// One JSON object per line, for log shippers.
    case json
}
