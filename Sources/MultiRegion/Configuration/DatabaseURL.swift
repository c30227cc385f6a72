#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
public import PostgresNIO

/// A parsed `postgres://` connection URL.
///
/// Accepts `postgres://` and `postgresql://`, IPv6 hosts in brackets, percent-encoded user
/// names and passwords, and `sslmode` of `disable`, `prefer` (the default) or `require`.
/// `description` never contains the password.
public struct DatabaseURL: Sendable, Equatable, CustomStringConvertible {
    /// How the connection uses TLS, as libpq's `sslmode`.
    public enum SSLMode: String, Sendable, CaseIterable {
        /// No TLS.
        case disable
        /// TLS when the server offers it (the default), without verifying the certificate.
        case prefer
        /// TLS always, without verifying the certificate (as libpq).
        case require
    }

    /// The server's host name or address (an IPv6 address without brackets).
    public var host: String
    /// The server's port (default 5432).
    public var port: Int
    /// The user name.
    public var username: String
    /// The password, if any; never in ``description``.
    public var password: String?
    /// The database (default: the user name, as libpq does).
    public var database: String
    /// How the connection uses TLS.
    public var sslMode: SSLMode

    /// Parses a URL; errors say what is wrong without repeating the URL (it holds a password).
    ///
    /// - Parameter text: A `postgres://` or `postgresql://` URL.
    public init(parsing text: String) throws(DatabaseURLError) {
        let text = text.trimmingWhitespace
        guard let schemeEnd = text.firstRange(of: "://") else { throw .notAURL }
        let scheme = text[..<schemeEnd.lowerBound].lowercased()
        guard scheme == "postgres" || scheme == "postgresql" else {
            throw .unsupportedScheme(String(scheme))
        }
        var rest = text[schemeEnd.upperBound...]

        var query: Substring = ""
        if let questionMark = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: questionMark)...]
            rest = rest[..<questionMark]
        }
        var path: Substring = ""
        // The user info may contain a "/" only percent-encoded, so the first "/" after the
        // last "@" starts the path.
        let authorityStart = rest.lastIndex(of: "@").map { rest.index(after: $0) } ?? rest.startIndex
        if let slash = rest[authorityStart...].firstIndex(of: "/") {
            path = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
        }

        var userInfo: Substring?
        var hostAndPort = rest
        if let at = rest.lastIndex(of: "@") {
            userInfo = rest[..<at]
            hostAndPort = rest[rest.index(after: at)...]
        }

        // Host: a bracketed IPv6 literal or a name/IPv4 address, then an optional port.
        var host: Substring
        var portText: Substring?
        if hostAndPort.hasPrefix("[") {
            guard let close = hostAndPort.firstIndex(of: "]") else { throw .invalidHost }
            host = hostAndPort[hostAndPort.index(after: hostAndPort.startIndex)..<close]
            let afterHost = hostAndPort[hostAndPort.index(after: close)...]
            if !afterHost.isEmpty {
                guard afterHost.hasPrefix(":") else { throw .invalidHost }
                portText = afterHost.dropFirst()
            }
        } else if let colon = hostAndPort.firstIndex(of: ":") {
            host = hostAndPort[..<colon]
            portText = hostAndPort[hostAndPort.index(after: colon)...]
        } else {
            host = hostAndPort
        }
        guard !host.isEmpty else { throw .missingHost }
        guard let decodedHost = host.removingPercentEncoding, !decodedHost.contains(where: \.isWhitespace) else {
            throw .invalidHost
        }
        self.host = decodedHost

        if let portText, !portText.isEmpty {
            guard let port = Int(portText), (1...65535).contains(port) else { throw .invalidPort }
            self.port = port
        } else {
            self.port = 5432
        }

        var username: String?
        if let userInfo {
            let parts = userInfo.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            guard let user = parts[0].removingPercentEncoding else { throw .invalidPercentEncoding("user name") }
            username = user.isEmpty ? nil : user
            if parts.count == 2 {
                guard let password = parts[1].removingPercentEncoding else {
                    throw .invalidPercentEncoding("password")
                }
                self.password = password
            }
        }
        guard let username else { throw .missingUsername }
        self.username = username

        guard let database = path.removingPercentEncoding else { throw .invalidPercentEncoding("database name") }
        // libpq's default: the database named after the user.
        self.database = database.isEmpty ? username : database

        self.sslMode = .prefer
        for parameter in query.split(separator: "&") {
            let pair = parameter.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard pair[0] == "sslmode" else { continue }
            let value = pair.count == 2 ? String(pair[1]) : ""
            guard let mode = SSLMode(rawValue: value) else { throw .unsupportedSSLMode(value) }
            self.sslMode = mode
        }
    }

    /// Creates a URL from its parts.
    public init(host: String, port: Int, username: String, password: String?, database: String, sslMode: SSLMode) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.database = database
        self.sslMode = sslMode
    }

    /// The URL with the password replaced by `***`, safe to log.
    public var description: String {
        let hostPart = host.contains(":") ? "[\(host)]" : host
        let credentials = password == nil ? username : "\(username):***"
        return "postgres://\(credentials)@\(hostPart):\(port)/\(database)?sslmode=\(sslMode.rawValue)"
    }

    /// The same credentials and database on another host and port.
    public func replacingHost(_ host: String, port: Int) -> DatabaseURL {
        var url = self
        url.host = host
        url.port = port
        return url
    }

    /// Fly's name for this region's nearest member of the Postgres app that `host` belongs to,
    /// on port 5433 (the member itself, not the primary behind port 5432).
    ///
    /// `<pg-app>` is the label before `.flycast` or `.internal` (`my-db.flycast`,
    /// `top1.nearest.of.my-db.internal`, `nrt.my-db.internal`). Only those Fly app hosts say
    /// anything about replicas: for any other host (Managed Postgres' `….flympg.net`, an
    /// external database, an IP address) there is nothing to derive, and this is `nil`.
    public func flyNearestReplica() -> DatabaseURL? {
        guard isFlyAppHost else { return nil }
        let labels = host.split(separator: ".")
        return replacingHost("top1.nearest.of.\(labels[labels.count - 2]).internal", port: 5433)
    }

    /// Whether the host is a Fly app's private name: `<app>.flycast` or `….<app>.internal`.
    public var isFlyAppHost: Bool {
        let labels = host.lowercased().split(separator: ".", omittingEmptySubsequences: false)
        return labels.count >= 2 && ["flycast", "internal"].contains(labels[labels.count - 1]) && !labels[labels.count - 2].isEmpty
    }

    /// A PostgresNIO client configuration for this URL: up to `maximumConnections`, one kept open.
    ///
    /// For the one-off commands (`migrate`, `bench`) and the tests' helpers; the server uses
    /// `poolConfiguration` and `DatabasePool` (see there for why). Exactly one connection is
    /// kept warm: PostgresNIO 1.33's pool stops the process (a precondition in
    /// `createNewDemandConnectionIfPossible`) when a database restart leaves it below a minimum
    /// above one. Its idle-timeout and keep-alive timers are kept short (10 s), since each holds
    /// its memory until its deadline.
    public func clientConfiguration(
        connectTimeout: Duration,
        maximumConnections: Int
    ) -> PostgresClient.Configuration {
        let tls: PostgresClient.Configuration.TLS =
            switch sslMode {
            case .disable: .disable
            case .prefer: .prefer(tlsConfiguration)
            case .require: .require(tlsConfiguration)
            }
        var configuration = PostgresClient.Configuration(
            host: host,
            port: port,
            username: username,
            password: password,
            database: database,
            tls: tls
        )
        configuration.options.connectTimeout = connectTimeout
        configuration.options.maximumConnections = maximumConnections
        configuration.options.minimumConnections = min(1, maximumConnections)
        configuration.options.connectionIdleTimeout = .seconds(10)
        configuration.options.keepAliveBehavior = .init(frequency: .seconds(10))
        return configuration
    }
}

extension DatabaseURL {
    /// The pool configuration the server uses for this URL (see `DatabasePool`).
    ///
    /// `applicationName` names the connections on the server (`pg_stat_activity`, and the
    /// `region` a change-log trigger records, as the users app's does).
    func poolConfiguration(maximumConnections: Int, connectTimeout: Duration, applicationName: String? = nil) throws -> DatabasePool.Configuration {
        let tls: PostgresConnection.Configuration.TLS =
            switch sslMode {
            case .disable: .disable
            case .prefer: .prefer(try NIOSSLContext(configuration: tlsConfiguration))
            case .require: .require(try NIOSSLContext(configuration: tlsConfiguration))
            }
        var connection = PostgresConnection.Configuration(
            host: host, port: port, username: username, password: password, database: database, tls: tls
        )
        connection.options.connectTimeout = .nanoseconds(connectTimeout.nanoseconds)
        if let applicationName {
            connection.options.additionalStartupParameters = [("application_name", applicationName)]
        }
        return DatabasePool.Configuration(
            connection: connection,
            maximumConnections: maximumConnections,
            minimumConnections: min(1, maximumConnections),
            connectTimeout: connectTimeout
        )
    }

    /// TLS for `sslmode=prefer` and `require`: like libpq's, they do not verify the certificate.
    private var tlsConfiguration: TLSConfiguration {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.certificateVerification = .none
        return configuration
    }
}

/// Why a database URL could not be used. Messages never include the URL itself.
public enum DatabaseURLError: Error, Equatable, CustomStringConvertible {
    /// Not of the form `scheme://…`.
    case notAURL
    /// A scheme other than `postgres` or `postgresql`.
    case unsupportedScheme(String)
    /// No host.
    case missingHost
    /// A host that cannot be used (an unclosed IPv6 bracket, white space).
    case invalidHost
    /// A port that is not a number from 1 to 65535.
    case invalidPort
    /// No user name.
    case missingUsername
    /// A percent-encoding that does not decode, in the named part.
    case invalidPercentEncoding(String)
    /// An `sslmode` other than `disable`, `prefer` or `require`.
    case unsupportedSSLMode(String)

    /// The description, for logs and people.
    public var description: String {
        switch self {
        case .notAURL: "is not a URL of the form postgres://user:password@host:port/database"
        case .unsupportedScheme(let scheme): "has scheme '\(scheme)'; use postgres:// or postgresql://"
        case .missingHost: "has no host"
        case .invalidHost: "has an invalid host (put IPv6 addresses in brackets, like [::1])"
        case .invalidPort: "has an invalid port (use a number from 1 to 65535)"
        case .missingUsername: "has no user name"
        case .invalidPercentEncoding(let part): "has an invalid percent-encoding in the \(part)"
        case .unsupportedSSLMode(let mode):
            "has sslmode '\(mode)'; use one of \(SSLMode.allCases.map(\.rawValue).joined(separator: ", "))"
        }
    }

    private typealias SSLMode = DatabaseURL.SSLMode
}
