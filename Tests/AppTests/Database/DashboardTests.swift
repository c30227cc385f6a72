import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

import HummingbirdMultiRegion
import MultiRegion
import MultiRegionTesting

@testable import App

extension DatabaseTests {
    @Suite("The Grafana dashboard (ops/grafana/multi-region.json) against the app's metrics", .serialized, .timeLimit(.minutes(2)))
    struct DashboardTests {
        let cluster: TestCluster

        init() async throws {
            cluster = try TestCluster()
            try await cluster.resetUsers()
        }

        @Test("It is a Grafana dashboard: a title, a uid, a schemaVersion, and panels that each have a type, a title, a place and a query")
        func isADashboard() throws {
            let dashboard = try Self.dashboard()
            #expect((dashboard["title"] as? String)?.isEmpty == false)
            #expect((dashboard["uid"] as? String)?.isEmpty == false)
            #expect(dashboard["schemaVersion"] is Int || dashboard["schemaVersion"] is NSNumber, "no numeric schemaVersion")
            let panels = Self.panels(dashboard)
            #expect(!panels.isEmpty)
            for panel in panels {
                let title = panel["title"] as? String ?? ""
                #expect(!title.isEmpty, "a panel without a title")
                #expect((panel["type"] as? String)?.isEmpty == false, "\(title): no type")
                #expect(panel["gridPos"] is [String: Any], "\(title): no gridPos")
                #expect(!Self.expressions(of: panel).isEmpty, "\(title): no target with an expr")
            }
        }

        @Test("Every metric the dashboard queries is served by the app (or, for series that wait for their event, named in its sources), or is one of Fly's own")
        func everyMetricExists() async throws {
            let dashboard = try Self.dashboard()
            var used = Set<String>()
            for panel in Self.panels(dashboard) {
                for expression in Self.expressions(of: panel) {
                    try used.formUnion(Self.metricNames(in: expression))
                }
            }
            #expect(used.isSuperset(of: ["fly_edge_http_response_time_seconds_bucket", "fly_app_http_response_time_seconds_bucket"]),
                    "Fly's edge and app latency, side by side")

            // A replica region in replay mode, so the replica's series exist and a write is replayed.
            let text = try await cluster.withApp(region: "ord", primaryRegion: "nrt", writeMode: .replay) { client, dependencies in
                #expect(try await client.execute(uri: "/users", method: .get).status == .ok)
                let replayed = try await client.execute(
                    uri: "/users", method: .post, headers: formHeaders(), body: formBody([("name", "Dashboard"), ("age", "1")])
                )
                #expect(replayed.status == .conflict)
                return dependencies.metrics.registry.emitToString()
            }
            let served = Self.servedNames(text)
            // What those requests produced is served, so the check below is not just the sources'.
            for name in ["http_server_request_duration_seconds_bucket", "db_query_duration_seconds_count", "fly_replays_sent_total"] {
                #expect(served.contains(name), "\(name) is not in the registry")
            }

            // Some series appear only after their event (a refused connection, a fallback, a
            // read that carried its own write): those must at least be named in the code.
            let sources = try Self.swiftSources()
            for name in used.sorted() where !served.contains(name) && !Self.flyMetrics.contains(name) {
                #expect(sources.contains("\"\(Self.baseName(name))\""),
                        "the dashboard queries \(name), which the app neither serves nor names in Sources/ (renamed?)")
            }
        }

        // MARK: - The dashboard

        /// Fly's own series (monitoring/metrics/), histograms both.
        static let flyMetrics = Set(["fly_edge_http_response_time_seconds", "fly_app_http_response_time_seconds"].flatMap(histogramSeries))

        /// Tests/AppTests/Database/DashboardTests.swift → the package root.
        static var packageRoot: URL {
            URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().deletingLastPathComponent()
        }

        static func dashboard() throws -> [String: Any] {
            let data = try Data(contentsOf: packageRoot.appendingPathComponent("ops/grafana/multi-region.json"))
            guard let dashboard = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                throw TestFailure("ops/grafana/multi-region.json is not a JSON object")
            }
            return dashboard
        }

        static func panels(_ dashboard: [String: Any]) -> [[String: Any]] {
            dashboard["panels"] as? [[String: Any]] ?? []
        }

        /// The non-empty PromQL expressions of a panel's targets.
        static func expressions(of panel: [String: Any]) -> [String] {
            (panel["targets"] as? [[String: Any]] ?? []).compactMap { $0["expr"] as? String }.filter { !$0.isEmpty }
        }

        // MARK: - PromQL

        static let promQLWords: Set<String> = [
            "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless", "offset", "le", "inf", "nan",
        ]

        /// The metric names a PromQL expression reads: identifiers followed by `{` or `[`, or
        /// bare; not functions and aggregations (followed by `(`), keywords or label names.
        static func metricNames(in expression: String) throws -> Set<String> {
            var text = expression
            for pattern in [
                #""(?:[^"\\]|\\.)*""#,  // strings: label values, regular expressions, $variables
                #"\{[^}]*\}"#,  // label matchers
                #"\[[^\]]*\]"#,  // ranges: [5m], [$__rate_interval]
                #"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)"#,  // label lists
            ] {
                let regex = try NSRegularExpression(pattern: pattern)
                text = regex.stringByReplacingMatches(in: text, range: NSRange(text.startIndex..., in: text), withTemplate: " ")
            }
            let identifier = try NSRegularExpression(pattern: #"(?<![\w.$])[A-Za-z_][A-Za-z0-9_]*\b(?!\s*\()"#)
            let names = identifier.matches(in: text, range: NSRange(text.startIndex..., in: text)).compactMap { match in
                Range(match.range, in: text).map { String(text[$0]) }
            }
            return Set(names).subtracting(promQLWords)
        }

        // MARK: - The app's side

        static func histogramSeries(_ name: String) -> [String] {
            [name, name + "_bucket", name + "_sum", name + "_count"]
        }

        /// `x` for `x_bucket`, `x_sum` and `x_count`: the name the code gives a histogram.
        static func baseName(_ name: String) -> String {
            guard let suffix = ["_bucket", "_sum", "_count"].first(where: { name.hasSuffix($0) }) else { return name }
            return String(name.dropLast(suffix.count))
        }

        /// Every series name in Prometheus text format, and each histogram's base name and series.
        static func servedNames(_ text: String) -> Set<String> {
            var names = Set<String>()
            for line in text.split(separator: "\n") {
                if line.hasPrefix("# TYPE ") {
                    let parts = line.split(separator: " ")
                    guard parts.count >= 4 else { continue }
                    let name = String(parts[2])
                    names.formUnion(parts[3] == "histogram" ? histogramSeries(name) : [name])
                } else if !line.hasPrefix("#") {
                    names.insert(String(line.prefix { $0 != "{" && $0 != " " }))
                }
            }
            return names
        }

        /// Every Swift source under Sources/, one string.
        static func swiftSources() throws -> String {
            let sources = packageRoot.appendingPathComponent("Sources")
            guard let files = FileManager.default.enumerator(atPath: sources.path) else {
                throw TestFailure("cannot list \(sources.path)")
            }
            var text = ""
            for case let file as String in files where file.hasSuffix(".swift") {
                text += try String(contentsOfFile: sources.appendingPathComponent(file).path, encoding: .utf8)
            }
            return text
        }
    }
}
