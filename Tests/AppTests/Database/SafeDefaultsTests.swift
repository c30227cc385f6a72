import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Testing

import HummingbirdMultiRegion
import MultiRegion
import MultiRegionTesting

@testable import App

extension DatabaseTests {
    @Suite("Safe defaults over real HTTP: security headers, cross-site writes, early answers", .serialized, .timeLimit(.minutes(2)))
    struct SafeDefaultsTests {
        let cluster: TestCluster

        init() async throws {
            cluster = try TestCluster()
            try await cluster.resetUsers()
        }

        /// Runs `body` against a real App process in `region` (replay mode outside `nrt`).
        private func withServer(
            region: String = "nrt", _ body: (HTTPClient, String) async throws -> Void
        ) async throws {
            let app = try AppProcess(
                environment: cluster.appEnvironment(region: region, primaryRegion: "nrt", writeMode: region == "nrt" ? .direct : .replay),
                logPath: "\(cluster.logDirectory)/app-safe-defaults-\(region).log"
            )
            let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(redirectConfiguration: .disallow))
            do {
                try await app.waitUntilAnswering(http)
                try await body(http, "http://127.0.0.1:\(app.port)")
            } catch {
                try? await http.shutdown()
                throw error
            }
            try await http.shutdown()
        }

        private func post(
            _ http: HTTPClient, _ url: String, form: String = "name=Mallory&age=30", headers: [(String, String)] = []
        ) async throws -> (status: UInt, headers: HTTPHeaders, body: String) {
            var request = HTTPClientRequest(url: url)
            request.method = .POST
            request.headers.add(name: "content-type", value: "application/x-www-form-urlencoded")
            for (name, value) in headers { request.headers.add(name: name, value: value) }
            request.body = .bytes(ByteBuffer(string: form))
            let response = try await http.execute(request, timeout: .seconds(10))
            return (response.status.code, response.headers, String(buffer: try await response.body.collect(upTo: 1 << 20)))
        }

        @Test("Pages, error pages, assets and redirects all carry the CSP, nosniff and Referrer-Policy; HSTS and Secure cookies only over HTTPS")
        func securityHeaders() async throws {
            try await withServer { http, base in
                for path in ["/users", "/users/999999", "/assets/app.css", "/", "/favicon.ico", "/healthz"] {
                    let response = try await http.execute(HTTPClientRequest(url: base + path), timeout: .seconds(10))
                    let csp = response.headers.first(name: "content-security-policy") ?? ""
                    for directive in ["default-src 'self'", "frame-ancestors 'none'", "form-action 'self'", "base-uri 'none'"] {
                        #expect(csp.contains(directive), "\(path): \(csp)")
                    }
                    #expect(!csp.contains("unsafe-inline"), "\(path)")
                    #expect(response.headers.first(name: "x-content-type-options") == "nosniff", "\(path)")
                    #expect(response.headers.first(name: "referrer-policy") == "strict-origin-when-cross-origin", "\(path)")
                    #expect(response.headers.first(name: "strict-transport-security") == nil, "\(path): no HSTS over plain HTTP")
                }
                let plain = try await post(http, base + "/users")
                #expect(plain.status == 303)
                #expect(!plain.headers["set-cookie"].isEmpty && plain.headers["set-cookie"].allSatisfy { !$0.contains("Secure") })

                let secure = try await post(http, base + "/users", headers: [("X-Forwarded-Proto", "https")])
                #expect(secure.status == 303)
                #expect(secure.headers.first(name: "strict-transport-security")?.hasPrefix("max-age=") == true)
                let cookies = secure.headers["set-cookie"]
                #expect(cookies.count >= 2, "the flash and the read-your-writes cookie")
                #expect(cookies.allSatisfy { $0.hasSuffix("; Secure") && $0.contains("HttpOnly") }, "\(cookies)")
            }
        }

        @Test("The favicon exists: /favicon.ico leads to the SVG in Public/")
        func favicon() async throws {
            try await withServer { http, base in
                let icon = try await http.execute(HTTPClientRequest(url: base + "/favicon.ico"), timeout: .seconds(10))
                #expect(icon.status == .movedPermanently)
                #expect(icon.headers.first(name: "location") == "/assets/favicon.svg")
                let svg = try await http.execute(HTTPClientRequest(url: base + "/assets/favicon.svg"), timeout: .seconds(10))
                #expect(svg.status == .ok)
                #expect(svg.headers.first(name: "content-type")?.hasPrefix("image/svg+xml") == true)
            }
        }

        @Test("Without Sec-Fetch-Site, a POST whose Origin or Referer names another site gets the 403 page; this site's and header-less ones go through")
        func crossSiteWithoutFetchMetadata() async throws {
            try await withServer { http, base in
                let host = base.replacingOccurrences(of: "http://", with: "")
                for headers in [[("Origin", "https://evil.example")], [("Origin", "null")], [("Referer", "https://evil.example/form")],
                                [("Origin", "http://\(host).evil.example")], [("Origin", "https://\(host)"), ("Sec-Fetch-Site", "cross-site")]] {
                    let response = try await post(http, base + "/users", headers: headers)
                    #expect(response.status == 403, "\(headers)")
                    #expect(response.body.contains("sent from another site"), "\(headers)")
                    #expect(response.body.contains("region-badge"), "the app's own page")
                }
                for headers in [[], [("Origin", "http://\(host)")], [("Referer", "http://\(host)/users/new")],
                                [("Origin", "https://evil.example"), ("Sec-Fetch-Site", "same-origin")]] {
                    let response = try await post(http, base + "/users", headers: headers)
                    #expect(response.status == 303, "\(headers)")
                }
            }
        }

        @Test("In a replica region, a forged cross-site write is refused before write routing, never replayed")
        func crossSiteIsNotReplayed() async throws {
            try await withServer(region: "ord") { http, base in
                let forged = try await post(http, base + "/users", headers: [("Origin", "https://evil.example")])
                #expect(forged.status == 403)
                #expect(forged.headers.first(name: "fly-replay") == nil)
                let honest = try await post(http, base + "/users")
                #expect(honest.status == 409)
                #expect(honest.headers.first(name: "fly-replay") == "region=nrt;state=write;timeout=6000ms;fallback=force_self")
            }
        }

        @Test("A 10 MB form gets the app's 413 page at once, and the connection is closed after it, so a client that sends everything first is not left waiting")
        func earlyAnswerClosesConnection() async throws {
            try await withServer { _, base in
                let port = Int(base.split(separator: ":").last!)!
                let started = ContinuousClock.now
                let reply = try sendWholeBodyThenRead(port: port, bodyBytes: 10 * 1024 * 1024)
                #expect(ContinuousClock.now - started < .seconds(5))
                #expect(reply.hasPrefix("HTTP/1.1 413"), "\(reply.prefix(200))")
                #expect(reply.lowercased().contains("connection: close"))
                #expect(reply.contains("larger than 1 MB"), "the app's own page")
            }
        }
        /// What a client like Python's urllib does: send the whole request, body included, and only
        /// then read the answer until the server closes.
        private func sendWholeBodyThenRead(port: Int, bodyBytes: Int) throws -> String {
            let socket = try LoopbackSocket(port: port)
            let head = "POST /users HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: \(bodyBytes)\r\n\r\n"
            try socket.send(Array(head.utf8) + [UInt8](repeating: UInt8(ascii: "x"), count: bodyBytes))
            return try socket.readToEnd()
        }
    }
}
