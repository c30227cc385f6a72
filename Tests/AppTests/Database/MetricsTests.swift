import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

import HummingbirdMultiRegion
import MultiRegion
import MultiRegionTesting

@testable import App

/// The value of the Prometheus series `name` whose labels include `labels`, from text
/// exposition format; `nil` when there is none.
func prometheusValue(_ text: String, _ name: String, _ labels: [String: String] = [:]) -> Double? {
    for line in text.split(separator: "\n") where !line.hasPrefix("#") {
        let parts = line.split(separator: " ")
        guard parts.count >= 2 else { continue }
        let series = parts[0]
        let seriesName = series.prefix { $0 != "{" }
        guard seriesName == name else { continue }
        let labelText = series.dropFirst(seriesName.count).trimmingCharacters(in: CharacterSet(charactersIn: "{}"))
        var found: [String: String] = [:]
        for pair in labelText.split(separator: ",") {
            let keyValue = pair.split(separator: "=", maxSplits: 1)
            if keyValue.count == 2 { found[String(keyValue[0])] = keyValue[1].trimmingCharacters(in: CharacterSet(charactersIn: "\"")) }
        }
        if labels.allSatisfy({ found[$0.key] == $0.value }) { return Double(parts[1]) }
    }
    return nil
}

extension DatabaseTests {
    @Suite("Prometheus metrics, against the real primary and replica", .serialized, .timeLimit(.minutes(2)))
    struct MetricsTests {
        let cluster: TestCluster

        init() async throws {
            cluster = try TestCluster()
            try await cluster.resetUsers()
        }

        @Test("The metrics endpoint answers in Prometheus text format on its own port, and not on the public one; the build-info gauge and the badge name the deploy")
        func endpoint() async throws {
            let metricsPort = try freePort()
            let deploy = [
                "FLY_MACHINE_VERSION": "01JDEPLOYVERSION0000000000",
                "FLY_IMAGE_REF": "registry.fly.io/users-demo:deployment-01JDEPLOYIMAGE",
            ]
            let app = try AppProcess(
                environment: cluster.appEnvironment(extra: ["METRICS_PORT": "\(metricsPort)"].merging(deploy) { $1 }),
                logPath: "\(cluster.logDirectory)/app-metrics.log"
            )
            let http = HTTPClient(eventLoopGroupProvider: .singleton)
            do {
                let base = "http://127.0.0.1:\(app.port)"
                try await app.waitUntilAnswering(http)
                let page = try await http.execute(HTTPClientRequest(url: base + "/users"), timeout: .seconds(5))
                let html = String(buffer: try await page.body.collect(upTo: 1 << 22))
                #expect(html.contains(#"data-machine-version="01JDEPLOYVERSION0000000000" data-image="deployment-01JDEPLOYIMAGE""#))
                #expect(html.contains("<code>version 01JDEPLOYVERSION0000000000 · deployment-01JDEPLOYIMAGE</code>"))
                #expect(!html.contains("registry.fly.io"), "the badge shows the image's tag, not where it is stored")
                let response = try await http.execute(HTTPClientRequest(url: "http://127.0.0.1:\(metricsPort)/metrics"), timeout: .seconds(5))
                #expect(response.status == .ok)
                #expect(response.headers.first(name: "content-type") == "text/plain; version=0.0.4; charset=utf-8")
                let text = String(buffer: try await response.body.collect(upTo: 1 << 22))
                #expect(text.contains("# TYPE http_server_request_duration_seconds histogram"))
                #expect((prometheusValue(text, "http_server_request_duration_seconds_count", ["route": "/users", "method": "GET", "status": "200", "region": "nrt"]) ?? 0) >= 1)
                #expect(prometheusValue(text, "db_query_duration_seconds_count", ["outcome": "ok", "region": "nrt"]) != nil)
                #expect(prometheusValue(text, "fly_replays_sent_total", ["reason": "write"]) == 0, "replay series exist from the start")
                #expect(
                    prometheusValue(
                        text, "app_build_info", ["region": "nrt", "machine_version": "01JDEPLOYVERSION0000000000", "image": "deployment-01JDEPLOYIMAGE"]
                    ) == 1
                )

                let onPublicPort = try await http.execute(HTTPClientRequest(url: base + "/metrics"), timeout: .seconds(5))
                #expect(onPublicPort.status == .notFound)
            } catch {
                try? await http.shutdown()
                throw error
            }
            try await http.shutdown()
        }

        @Test("With LOG_FORMAT=json every line is one JSON object, and a request's line carries its id, region, route, status, time and database")
        func jsonLogs() async throws {
            let app = try AppProcess(
                environment: cluster.appEnvironment(region: "ord", extra: ["LOG_FORMAT": "json", "LOG_LEVEL": "info"]),
                logPath: "\(cluster.logDirectory)/app-json.log"
            )
            let http = HTTPClient(eventLoopGroupProvider: .singleton)
            do {
                var request = HTTPClientRequest(url: "http://127.0.0.1:\(app.port)/users")
                request.headers.add(name: "fly-request-id", value: "01TESTREQUESTID-nrt")
                try await app.waitUntilAnswering(http)
                #expect(try await http.execute(request, timeout: .seconds(5)).status == .ok)
                try await Task.sleep(for: .milliseconds(200))
            } catch {
                try? await http.shutdown()
                throw error
            }
            try await http.shutdown()
            let lines = app.log.split(separator: "\n").filter { !$0.isEmpty }
            #expect(!lines.isEmpty)
            var requestLine: [String: Any]?
            for line in lines {
                let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
                #expect(object != nil, "not a JSON object: \(line)")
                if object?["request_id"] as? String == "01TESTREQUESTID-nrt", object?["status"] as? String == "200" { requestLine = object }
            }
            let line = try #require(requestLine, "no request line for the request; log:\n\(app.log.suffix(1500))")
            #expect(line["region"] as? String == "ord")
            #expect(line["route"] as? String == "/users")
            #expect(line["db"] as? String == "replica")
            #expect(line["message"] as? String == "GET /users")
            #expect((line["ms"] as? String).flatMap(Double.init) != nil)
            #expect(line["level"] as? String == "info")
        }

        @Test("Replays, reads that fell back to the primary and read-your-writes waits move their series")
        func countersMove() async throws {
            try await cluster.withApp(region: "ord", primaryRegion: "nrt", writeMode: .replay) { client, dependencies in
                let replayed = try await client.execute(uri: "/users", method: .post, headers: formHeaders(), body: formBody([("name", "A"), ("age", "1")]))
                #expect(replayed.status == .conflict)
                let text = dependencies.metrics.registry.emitToString()
                #expect(prometheusValue(text, "fly_replays_sent_total", ["reason": "write", "region": "ord"]) == 1)
                #expect(prometheusValue(text, "fly_replays_sent_total", ["reason": "stale", "region": "ord"]) == 0)
            }
            try await cluster.withApp(region: "ord", primaryRegion: "nrt", writeMode: .direct) { client, dependencies in
                var jar = CookieJar()
                let id = try await client.createUser(name: "Waited for", age: 2, jar: &jar)
                _ = try await client.get("/users/\(id)", jar: &jar)
                var text = dependencies.metrics.registry.emitToString()
                let waited = ["already_replayed", "caught_up"].compactMap {
                    prometheusValue(text, "read_your_writes_wait_seconds_count", ["outcome": $0, "region": "ord"])
                }.reduce(0, +)
                #expect(waited == 1, "one read waited for its own write")

                try await cluster.setReplayPaused(true)
                do {
                    let stale = try await client.createUser(name: "Stale", age: 3, jar: &jar)
                    let page = try await client.get("/users/\(stale)", jar: &jar)
                    #expect(page.badgeDatabase == "primary")
                } catch {
                    try? await cluster.setReplayPaused(false)
                    throw error
                }
                try await cluster.setReplayPaused(false)
                text = dependencies.metrics.registry.emitToString()
                #expect(prometheusValue(text, "read_your_writes_wait_seconds_count", ["outcome": "timed_out", "region": "ord"]) == 1)
                #expect(prometheusValue(text, "reads_fallback_to_primary_total", ["reason": "stale", "region": "ord"]) == 1)
                #expect(prometheusValue(text, "replica_reachable", ["region": "ord"]) == 1)
                #expect(prometheusValue(text, "db_query_duration_seconds_count", ["role": "replica", "outcome": "ok", "region": "ord"]) != nil)
                // The pools' own figures: requests read from the replica pool; the primary pool
                // took the direct writes.
                #expect((prometheusValue(text, "db_connections_open", ["role": "replica", "region": "ord"]) ?? 0) >= 1)
                #expect((prometheusValue(text, "db_connections_open", ["role": "primary", "region": "ord"]) ?? 0) >= 1)
            }
        }

        @Test("Label values stay bounded: unknown paths and odd methods add no series of their own")
        func boundedCardinality() async throws {
            try await cluster.withApp { client, dependencies in
                for index in 0..<20 {
                    _ = try await client.execute(uri: "/no-such-page-\(index)", method: .get)
                    _ = try await client.execute(uri: "/users/\(1000 + index)", method: .get)
                    _ = try await client.execute(uri: "/users", method: HTTPRequest.Method("BREW\(index)")!)
                }
                let text = dependencies.metrics.registry.emitToString()
                let series = text.split(separator: "\n").filter { $0.hasPrefix("http_server_request_duration_seconds_count{") }
                #expect(!text.contains("no-such-page"))
                #expect(!text.contains("BREW"))
                #expect(!text.contains("/users/10"), "ids never become labels")
                #expect(prometheusValue(text, "http_server_request_duration_seconds_count", ["route": "NotFound", "method": "GET"]) == 20)
                #expect(prometheusValue(text, "http_server_request_duration_seconds_count", ["route": "/users/{id}", "method": "GET", "status": "404"]) == 20)
                #expect(series.count <= 4, "\(series)")
            }
        }
    }
}
