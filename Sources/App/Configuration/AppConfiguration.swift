import Configuration
import Crypto
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Logging

/// Everything the app reads from its environment, validated once at start-up.
///
/// Only the composition root builds this; everything else receives the parts it needs.
struct AppConfiguration: Sendable {
    /// The primary, which takes every write (`DATABASE_URL`).
    var primaryURL: DatabaseURL
    /// This region's read replica; `nil` when reads go to the primary.
    var replicaURL: DatabaseURL?
    /// Where this instance runs and where the primary is.
    var regions: RegionInfo
    /// How writes reach the primary from other regions (`WRITE_MODE`).
    var writeMode: WriteMode
    /// How long a read waits for the replica to replay the reader's own write
    /// (`READ_YOUR_WRITES_TIMEOUT`, seconds).
    var readYourWritesTimeout: Duration
    /// The replica lag above which `/readyz` fails (`MAX_REPLICA_LAG`, seconds).
    var maxReplicaLag: Duration
    /// The longest a request may take before it is answered with a 503 page
    /// (`REQUEST_TIMEOUT`, seconds).
    var requestTimeout: Duration
    /// The longest one database call may take, lease included (`DATABASE_TIMEOUT`, seconds);
    /// shorter than the request timeout, so a request can still fall back after one.
    var databaseTimeout: Duration
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

    static let defaultPort = 8080
    static let defaultMetricsPort = 9091

    /// Reads and validates the configuration.
    ///
    /// Keys (environment variables):
    /// - `DATABASE_URL` (required): the primary.
    /// - `REPLICA_DATABASE_URL`: the regional replica. On Fly (`FLY_APP_NAME` set), outside the
    ///   primary region, it defaults to `top1.nearest.of.<pg-app>.internal:5433`.
    /// - `FLY_REGION` (default `local`), `PRIMARY_REGION` (default `FLY_REGION`), `FLY_MACHINE_ID`.
    /// - `WRITE_MODE`: `replay` (default on Fly) or `direct` (default elsewhere).
    /// - `READ_YOUR_WRITES_TIMEOUT` (seconds, default 2), `MAX_REPLICA_LAG` (seconds, default 30).
    /// - `REQUEST_TIMEOUT` (seconds, default 5), `DATABASE_TIMEOUT` (seconds, default 3, less
    ///   than `REQUEST_TIMEOUT`), `SHUTDOWN_TIMEOUT` (seconds, default 10).
    /// - `SECRET_KEY_BASE`: at least 32 characters; optional.
    /// - `HOST` (default `::`), `PORT` (default 8080), `LOG_LEVEL` (default `info`), `PUBLIC_DIR`.
    /// - `LOG_FORMAT` (`text` or `json`), `METRICS_PORT` (default 9091, or `off`).
    init(reader: ConfigReader) throws(ConfigurationError) {
        guard let primaryText = reader.string(forKey: "database.url", isSecret: true), !primaryText.isEmpty else {
            throw .missing("DATABASE_URL", hint: "set it to the primary's URL, like postgres://user:password@host:5432/database")
        }
        do {
            self.primaryURL = try DatabaseURL(parsing: primaryText)
        } catch {
            throw .invalid("DATABASE_URL", reason: error.description)
        }

        let region = Self.nonEmpty(reader.string(forKey: "fly.region")) ?? "local"
        let primaryRegion = Self.nonEmpty(reader.string(forKey: "primary.region")) ?? region
        let flyAppName = Self.nonEmpty(reader.string(forKey: "fly.app.name"))
        for (name, value) in [("FLY_REGION", region), ("PRIMARY_REGION", primaryRegion)] {
            guard value.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }) else {
                throw .invalid(name, reason: "must be a region code such as ord or nrt")
            }
        }
        self.regions = RegionInfo(
            region: region,
            primaryRegion: primaryRegion,
            machineID: Self.nonEmpty(reader.string(forKey: "fly.machine.id")),
            appName: flyAppName
        )

        if let replicaText = Self.nonEmpty(reader.string(forKey: "replica.database.url", isSecret: true)) {
            do {
                self.replicaURL = try DatabaseURL(parsing: replicaText)
            } catch {
                throw .invalid("REPLICA_DATABASE_URL", reason: error.description)
            }
        } else if flyAppName != nil, region != primaryRegion {
            self.replicaURL = primaryURL.flyNearestReplica()
        } else {
            self.replicaURL = nil
        }

        if let modeText = Self.nonEmpty(reader.string(forKey: "write.mode")) {
            guard let mode = WriteMode(rawValue: modeText.lowercased()) else {
                throw .invalid("WRITE_MODE", reason: "must be replay or direct")
            }
            self.writeMode = mode
        } else {
            self.writeMode = flyAppName != nil ? .replay : .direct
        }

        self.readYourWritesTimeout = try Self.seconds(reader, key: "read.your.writes.timeout", name: "READ_YOUR_WRITES_TIMEOUT", default: .seconds(2))
        self.maxReplicaLag = try Self.seconds(reader, key: "max.replica.lag", name: "MAX_REPLICA_LAG", default: .seconds(30))
        self.requestTimeout = try Self.seconds(reader, key: "request.timeout", name: "REQUEST_TIMEOUT", default: .seconds(5))
        self.databaseTimeout = try Self.seconds(reader, key: "database.timeout", name: "DATABASE_TIMEOUT", default: .seconds(3))
        self.shutdownTimeout = try Self.seconds(reader, key: "shutdown.timeout", name: "SHUTDOWN_TIMEOUT", default: .seconds(10))
        guard requestTimeout > .zero else {
            throw .invalid("REQUEST_TIMEOUT", reason: "must be more than 0 seconds")
        }
        guard databaseTimeout > .zero, databaseTimeout < requestTimeout else {
            throw .invalid("DATABASE_TIMEOUT", reason: "must be more than 0 and less than REQUEST_TIMEOUT (\(requestTimeout.inSeconds) s)")
        }

        if let secret = Self.nonEmpty(reader.string(forKey: "secret.key.base", isSecret: true)) {
            guard secret.utf8.count >= 32 else {
                throw .invalid("SECRET_KEY_BASE", reason: "must be at least 32 characters long")
            }
            self.cookieKey = Self.deriveKey(from: secret)
        } else {
            // Every instance of the app shares DATABASE_URL, and it is as secret as the data the
            // cookies point at, so it is a workable default key.
            self.cookieKey = Self.deriveKey(from: primaryText)
        }

        self.host = Self.nonEmpty(reader.string(forKey: "host")) ?? "::"
        if let portText = Self.nonEmpty(reader.string(forKey: "port")) {
            guard let port = Int(portText), (1...65535).contains(port) else {
                throw .invalid("PORT", reason: "must be a number from 1 to 65535")
            }
            self.port = port
        } else {
            self.port = Self.defaultPort
        }
        if let levelText = Self.nonEmpty(reader.string(forKey: "log.level")) {
            guard let level = Logger.Level(rawValue: levelText.lowercased()) else {
                throw .invalid("LOG_LEVEL", reason: "must be one of trace, debug, info, notice, warning, error, critical")
            }
            self.logLevel = level
        } else {
            self.logLevel = .info
        }
        self.publicDirectory = Self.nonEmpty(reader.string(forKey: "public.dir")) ?? "Public"
        if let formatText = Self.nonEmpty(reader.string(forKey: "log.format")) {
            guard let format = LogFormat(rawValue: formatText.lowercased()) else {
                throw .invalid("LOG_FORMAT", reason: "must be text or json")
            }
            self.logFormat = format
        } else {
            self.logFormat = .text
        }
        switch Self.nonEmpty(reader.string(forKey: "metrics.port"))?.lowercased() {
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
    }

    private static func nonEmpty(_ value: String?) -> String? {
        guard let value = value?.trimmed, !value.isEmpty else { return nil }
        return value
    }

    private static func seconds(_ reader: ConfigReader, key: ConfigKey, name: String, default value: Duration) throws(ConfigurationError) -> Duration {
        guard let text = nonEmpty(reader.string(forKey: key)) else { return value }
        guard let seconds = Double(text), seconds.isFinite, seconds >= 0, seconds <= 3600 else {
            throw .invalid(name, reason: "must be a number of seconds from 0 to 3600, like 2 or 0.5")
        }
        return .milliseconds(Int64((seconds * 1000).rounded()))
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

/// How a write that arrives outside the primary region reaches the primary.
enum WriteMode: String, Sendable {
    /// Ask Fly's proxy to replay the whole request in the primary region.
    case replay
    /// Connect to the primary over the network from this region.
    case direct
}

/// A configuration problem, naming the environment variable at fault.
enum ConfigurationError: Error, Equatable, CustomStringConvertible {
    case missing(String, hint: String)
    case invalid(String, reason: String)

    var description: String {
        switch self {
        case .missing(let name, let hint): "\(name) is not set: \(hint)."
        case .invalid(let name, let reason): "\(name) \(reason)."
        }
    }
}
