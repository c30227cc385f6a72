import Configuration
import Hummingbird
import HummingbirdTesting
import PostgresNIO

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
        _ test: @Sendable (any TestClientProtocol, AppDependencies) async throws -> Value
    ) async throws -> Value {
        let configuration = try configuration(
            region: region, primaryRegion: primaryRegion, writeMode: writeMode, useReplica: useReplica, extra: extra
        )
        let dependencies = try AppDependencies(configuration: configuration)
        let router = dependencies.buildRouter { addPages($0, dependencies) }
        let app = buildApplication(dependencies, router: router)
        return try await app.test(.router) { client in
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
