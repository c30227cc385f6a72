import AsyncHTTPClient
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization
import Testing

@testable import LocalEdge
import MultiRegionTesting

@Suite("The local edge passes streamed responses through as they are written")
struct StreamingTests {
    @Test("Each part of an event stream reaches the client before the next is written, in every region, also with a round trip between regions", arguments: ["0ms", "80ms"])
    func unbuffered(rtt: String) async throws {
        let gate = Gate()
        try await withLocalEdge(regions: ["nrt", "ord"], distances: try RegionDistances(parsing: rtt), makeInstance: { region, port in
            StreamingInstance.application(region: region, port: port, gate: gate)
        }) { edge in
            for region in ["nrt", "ord"] {
                var request = HTTPClientRequest(url: "\(edge.base)/stream")
                request.headers.add(name: "fly-force-region", value: region)
                let response = try await edge.http.execute(request, timeout: .seconds(10))
                #expect(response.status == .ok)
                var body = response.body.makeAsyncIterator()
                var received = ""
                // The instance writes the second part only once the test has the first.
                while !received.contains("first\n") {
                    guard let chunk = try await body.next() else { break }
                    received += String(buffer: chunk)
                }
                #expect(received == "first\n", "\(region): got \(received.debugDescription) before the instance was let go on")
                gate.open()
                while let chunk = try await body.next() { received += String(buffer: chunk) }
                #expect(received == "first\nsecond\n")
                gate.reset()
            }
        }
    }

    @Test("Twenty open streams to one region do not hold up the next request there (no pool limit of the edge's own)")
    func openStreamsDoNotBlock() async throws {
        let gate = Gate()
        try await withLocalEdge(regions: ["nrt", "ord"], makeInstance: { region, port in
            StreamingInstance.application(region: region, port: port, gate: gate)
        }) { edge in
            var open: [HTTPClientResponse] = []
            for _ in 0..<20 {
                var request = HTTPClientRequest(url: "\(edge.base)/stream")
                request.headers.add(name: "fly-force-region", value: "ord")
                open.append(try await edge.http.execute(request, timeout: .seconds(5)))
            }
            var jar: [String: String] = [:]
            let started = ContinuousClock.now
            let reply = try await edge.send(.GET, "/readyz", region: "ord", jar: &jar, forcingRegion: true)
            #expect(reply.status == .ok)
            #expect(ContinuousClock.now - started < .seconds(2), "waited \(ContinuousClock.now - started) behind the open streams")
            gate.open()
            for response in open { for try await _ in response.body {} }
        }
    }
}

/// Lets a streaming response go on once the test has seen its first part.
final class Gate: Sendable {
    private let state = Mutex<(open: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    func open() {
        let waiters = state.withLock { state in
            state.open = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    func reset() { state.withLock { $0.open = false } }

    func wait() async {
        await withCheckedContinuation { continuation in
            let isOpen = state.withLock { state in
                if !state.open { state.waiters.append(continuation) }
                return state.open
            }
            if isOpen { continuation.resume() }
        }
    }
}

/// An instance whose `/stream` writes one part, waits for the gate, then writes another.
enum StreamingInstance {
    static func application(region: String, port: Int, gate: Gate) -> any Service {
        let router = Router()
        router.get("readyz") { _, _ in "ready\n" }
        router.get("stream") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/event-stream"],
                body: ResponseBody { writer in
                    try await writer.write(ByteBuffer(string: "first\n"))
                    await gate.wait()
                    try await writer.write(ByteBuffer(string: "second\n"))
                    try await writer.finish(nil)
                }
            )
        }
        var logger = Logger(label: "stream-\(region)")
        logger.logLevel = .critical
        return Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)), logger: logger)
    }
}
