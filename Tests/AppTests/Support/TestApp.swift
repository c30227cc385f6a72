import Configuration
import Foundation
import Hummingbird
import HummingbirdTesting
import PostgresNIO

import HummingbirdMultiRegion
import MultiRegion
import MultiRegionTesting

@testable import App

extension TestCluster {
    /// Runs `test` against the real app wiring (`buildApplication`) in the given region.
    func withApp<Value: Sendable>(
        region: String = "nrt",
        primaryRegion: String = "nrt",
        writeMode: WriteMode = .direct,
        useReplica: Bool = true,
        extra: [String: String] = [:],
        addPages: @Sendable (RouterGroup<AppRequestContext>, AppDependencies) -> Void = { _, _ in },
        testing: TestingSetup = .router,
        _ test: @Sendable (any TestClientProtocol, AppDependencies) async throws -> Value
    ) async throws -> Value {
        let configuration = try appConfiguration(
            region: region, primaryRegion: primaryRegion, writeMode: writeMode, useReplica: useReplica, extra: extra
        )
        let dependencies = try AppDependencies(configuration: configuration)
        let router = dependencies.buildRouter { addPages($0, dependencies) }
        let app = buildApplication(dependencies, router: router)
        return try await app.test(testing) { client in
            if let tracker = dependencies.tracker { _ = await tracker.firstStatus() }
            return try await test(client, dependencies)
        }
    }
}

extension TestClientProtocol {
    /// Creates a user through the form and returns its id and the response's cookies.
    func createUser(name: String, age: Int, jar: inout CookieJar) async throws -> Int64 {
        let response = try await execute(
            uri: "/users", method: .post, headers: formHeaders(jar.headers), body: formBody([("name", name), ("age", "\(age)")])
        )
        guard response.status == .seeOther, let location = response.location,
            let id = Int64(location.replacingOccurrences(of: "/users/", with: ""))
        else {
            throw TestFailure("creating a user answered \(response.status) \(response.text.prefix(300))")
        }
        jar.update(from: response)
        return id
    }

    func get(_ uri: String, jar: inout CookieJar, headers: HTTPFields = [:]) async throws -> TestResponse {
        var fields = jar.headers
        for field in headers { fields.append(field) }
        let response = try await execute(uri: uri, method: .get, headers: fields)
        jar.update(from: response)
        return response
    }
}

extension TestCluster {
    /// The environment of an app instance in `region`: the machinery's, and the app's own keys.
    func appEnvironment(
        region: String = "nrt",
        primaryRegion: String = "nrt",
        writeMode: WriteMode = .direct,
        useReplica: Bool = true,
        extra: [String: String] = [:]
    ) -> [String: String] {
        let app = [
            "SECRET_KEY_BASE": String(repeating: "test-secret-", count: 4),
            "LOG_LEVEL": "warning",
            // Tests that read the Prometheus endpoint over HTTP pick a free port themselves.
            "METRICS_PORT": "off",
        ]
        return environment(region: region, primaryRegion: primaryRegion, writeMode: writeMode, useReplica: useReplica, extra: app.merging(extra) { $1 })
    }

    /// The app's configuration for an instance in `region`, against this cluster.
    func appConfiguration(
        region: String = "nrt",
        primaryRegion: String = "nrt",
        writeMode: WriteMode = .direct,
        useReplica: Bool = true,
        extra: [String: String] = [:]
    ) throws -> AppConfiguration {
        let provider = EnvironmentVariablesProvider(
            environmentVariables: appEnvironment(region: region, primaryRegion: primaryRegion, writeMode: writeMode, useReplica: useReplica, extra: extra)
        )
        return try AppConfiguration(reader: ConfigReader(provider: provider))
    }

    /// Applies the app's migrations and empties the users table, then waits until the replica
    /// has the same state.
    func resetUsers() async throws {
        try await reset(migrationsDirectory: Self.migrationsDirectory, truncating: ["users", "user_changes"])
    }

    static var migrationsDirectory: String {
        // Tests/AppTests/Support/TestApp.swift → the package root.
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Migrations").path
    }

    static var publicDirectory: String {
        URL(fileURLWithPath: migrationsDirectory).deletingLastPathComponent().appendingPathComponent("Public").path
    }
}
