import Configuration
import MultiRegion
import Testing

@Suite("Replica discovery: only Fly app hosts say anything about replicas")
struct ReplicaDiscoveryTests {
    /// The configuration of an instance in `ord` on Fly, primary in `nrt`.
    private func ord(_ environment: [String: String]) throws -> MultiRegionConfiguration {
        let base = ["FLY_APP_NAME": "my-app", "FLY_REGION": "ord", "PRIMARY_REGION": "nrt"]
        return try MultiRegionConfiguration(
            reader: ConfigReader(provider: EnvironmentVariablesProvider(environmentVariables: base.merging(environment) { $1 }))
        )
    }

    @Test("Fly app hosts give the nearest member of their Postgres app on port 5433", arguments: [
        "my-db.flycast", "my-db.internal", "top1.nearest.of.my-db.internal", "nrt.my-db.internal", "MY-DB.FLYCAST",
    ])
    func flyAppHosts(host: String) throws {
        let configuration = try ord(["DATABASE_URL": "postgres://app:s3cret@\(host):5432/app?sslmode=disable"])
        let replica = try #require(configuration.replicaURL)
        #expect(replica.host.lowercased() == "top1.nearest.of.my-db.internal")
        #expect(replica.port == 5433)
        #expect(replica.password == "s3cret")
        #expect(replica.database == "app")
        #expect(configuration.replicaSource == .flyNearest)
        #expect(configuration.readsFromPrimaryReason == nil)
    }

    @Test("Managed Postgres, external databases and IP literals have no replica to derive: reads use the primary, and say why", arguments: [
        "pgbouncer.abc123.flympg.net", "direct.abc123.flympg.net", "ep-cool-1.us-east-2.aws.neon.tech", "db.example.com",
        "[fdaa:0:1::3]", "10.0.0.5", "localhost", "internal", "flycast",
    ])
    func otherHosts(host: String) throws {
        let configuration = try ord(["DATABASE_URL": "postgres://app:s3cret@\(host):5432/app"])
        #expect(configuration.replicaURL == nil)
        #expect(configuration.replicaSource == .notAFlyAppHost)
        let reason = try #require(configuration.readsFromPrimaryReason)
        #expect(reason.contains("REPLICA_DATABASE_URL"))
        #expect(!reason.contains("s3cret") && !reason.contains("abc123") && !reason.contains("example"), "no secret or host in the reason")
    }

    @Test("An explicit REPLICA_DATABASE_URL wins over discovery, for any host")
    func explicitReplica() throws {
        let configuration = try ord([
            "DATABASE_URL": "postgres://app@pgbouncer.abc123.flympg.net/app", "REPLICA_DATABASE_URL": "postgres://app@[::1]:5442/app",
        ])
        #expect(configuration.replicaURL?.host == "::1")
        #expect(configuration.replicaSource == .configured)
        #expect(configuration.readsFromPrimaryReason == nil)
    }

    @Test("In the primary region no replica is derived, and nothing needs explaining")
    func primaryRegion() throws {
        let configuration = try ord(["DATABASE_URL": "postgres://app@my-db.flycast/app", "FLY_REGION": "nrt"])
        #expect(configuration.replicaURL == nil)
        #expect(configuration.readsFromPrimaryReason == nil)
    }
}
