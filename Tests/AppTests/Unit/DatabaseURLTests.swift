import Configuration
import Testing

import HummingbirdMultiRegion
import MultiRegion
import MultiRegionTesting

@testable import App

@Suite("Database URLs and configuration")
struct DatabaseURLTests {
    @Test("A full URL is parsed")
    func fullURL() throws {
        let url = try DatabaseURL(parsing: "postgres://app:secret@db.example.com:6543/users?sslmode=require")
        #expect(url == DatabaseURL(host: "db.example.com", port: 6543, username: "app", password: "secret", database: "users", sslMode: .require))
    }

    @Test("postgresql:// works too, and the defaults are libpq's")
    func defaults() throws {
        let url = try DatabaseURL(parsing: "postgresql://app@localhost")
        #expect(url.port == 5432)
        #expect(url.database == "app")
        #expect(url.password == nil)
        #expect(url.sslMode == .prefer)
    }

    @Test("IPv6 hosts are written in brackets")
    func ipv6() throws {
        let url = try DatabaseURL(parsing: "postgres://u:p@[fdaa:0:1::3]:5433/db?sslmode=disable")
        #expect(url.host == "fdaa:0:1::3")
        #expect(url.port == 5433)
        #expect(url.description == "postgres://u:***@[fdaa:0:1::3]:5433/db?sslmode=disable")
    }

    @Test("Percent-encoded passwords are decoded, even with @, : and /")
    func percentEncoding() throws {
        let url = try DatabaseURL(parsing: "postgres://us%40er:p%40ss%3Aw%2Frd@host/db")
        #expect(url.username == "us@er")
        #expect(url.password == "p@ss:w/rd")
        #expect(url.database == "db")
    }

    @Test("The description never contains the password")
    func redacted() throws {
        let url = try DatabaseURL(parsing: "postgres://u:hunter2@host/db")
        #expect(!url.description.contains("hunter2"))
    }

    @Test("Bad URLs give clear errors", arguments: [
        ("mysql://u@h/db", DatabaseURLError.unsupportedScheme("mysql")),
        ("host:5432", .notAURL),
        ("postgres://u@h:99999/db", .invalidPort),
        ("postgres://u@[::1/db", .invalidHost),
        ("postgres://h/db", .missingUsername),
        ("postgres://u@h/db?sslmode=verify-full", .unsupportedSSLMode("verify-full")),
    ])
    func badURLs(text: String, expected: DatabaseURLError) {
        #expect(throws: expected) { try DatabaseURL(parsing: text) }
    }

    @Test("On Fly, outside the primary region, the replica is the nearest member on 5433")
    func flyReplicaDerivation() throws {
        let configuration = try configuration([
            "DATABASE_URL": "postgres://app:s3cret@my-db.flycast:5432/app?sslmode=disable",
            "FLY_APP_NAME": "my-app",
            "FLY_REGION": "ord",
            "PRIMARY_REGION": "nrt",
        ])
        let replica = try #require(configuration.replicaURL)
        #expect(replica.host == "top1.nearest.of.my-db.internal")
        #expect(replica.port == 5433)
        #expect(replica.username == "app")
        #expect(replica.password == "s3cret")
        #expect(replica.database == "app")
        #expect(configuration.writeMode == .replay)
    }

    @Test("In the primary region, or off Fly, reads use the primary")
    func noReplicaInPrimaryRegion() throws {
        let inPrimary = try configuration([
            "DATABASE_URL": "postgres://app@my-db.internal/app", "FLY_APP_NAME": "my-app", "FLY_REGION": "nrt", "PRIMARY_REGION": "nrt",
        ])
        #expect(inPrimary.replicaURL == nil)
        let local = try configuration(["DATABASE_URL": "postgres://app@localhost/app"])
        #expect(local.replicaURL == nil)
        #expect(local.regions == RegionInfo(region: "local", primaryRegion: "local", machineID: nil, appName: nil))
        #expect(local.port == 8080)
        #expect(local.host == "::")
        #expect(local.writeMode == .direct)
    }

    @Test("An explicit REPLICA_DATABASE_URL wins")
    func explicitReplica() throws {
        let configuration = try configuration([
            "DATABASE_URL": "postgres://app@my-db.internal/app", "REPLICA_DATABASE_URL": "postgres://app@[::1]:5442/app",
            "FLY_APP_NAME": "my-app", "FLY_REGION": "ord", "PRIMARY_REGION": "nrt",
        ])
        #expect(configuration.replicaURL?.host == "::1")
    }

    @Test("Configuration errors name the variable and never print the password")
    func configurationErrors() {
        #expect(throws: ConfigurationError.self) { try configuration([:]) }
        do {
            _ = try configuration(["DATABASE_URL": "postgres://u:topsecret@h:notaport/db"])
            Issue.record("expected an error")
        } catch {
            #expect(error.description.hasPrefix("DATABASE_URL"))
            #expect(!error.description.contains("topsecret"))
        }
        #expect(throws: ConfigurationError.invalid("PORT", reason: "must be a number from 1 to 65535")) {
            try configuration(["DATABASE_URL": "postgres://u@h/db", "PORT": "eighty"])
        }
        #expect(throws: ConfigurationError.self) {
            try configuration(["DATABASE_URL": "postgres://u@h/db", "WRITE_MODE": "sometimes"])
        }
    }

    private func configuration(_ environment: [String: String]) throws(ConfigurationError) -> AppConfiguration {
        try AppConfiguration(reader: ConfigReader(provider: EnvironmentVariablesProvider(environmentVariables: environment)))
    }
}
