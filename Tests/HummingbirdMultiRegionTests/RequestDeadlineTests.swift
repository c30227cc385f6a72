import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import NIOPosix
import Synchronization
import Testing

import HummingbirdMultiRegion
import MultiRegion

/// The request deadline on a bare Hummingbird server over real HTTP, through the public
/// builder `http1WithEarlyAnswers(requestDeadline:)`.
@Suite("The request deadline, kept on the connection", .timeLimit(.minutes(1)))
struct RequestDeadlineTests {
    static let deadline = Duration.milliseconds(300)

    /// Runs `test` against a server whose routes hang, answer late, answer in time, or stream
    /// past the deadline.
    private func withServer(_ test: @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        let hanging = Mutex<[CheckedContinuation<Void, Never>]>([])
        let router = Router()
        router.get("/hang") { _, _ -> String in
            await withCheckedContinuation { continuation in hanging.withLock { $0.append(continuation) } }
            return "finally"
        }
        router.get("/late") { _, _ -> String in
            try await Task.sleep(for: .milliseconds(600))
            return "late"
        }
        router.get("/quick") { _, _ in "quick" }
        router.get("/slow") { _, _ -> String in
            try await Task.sleep(for: Self.deadline * 2 / 3)
            return "slow"
        }
        router.get("/stream") { _, _ -> Response in
            Response(status: .ok, body: ResponseBody { writer in
                for part in ["one ", "two ", "three"] {
                    try await writer.write(ByteBuffer(string: part))
                    try await Task.sleep(for: .milliseconds(200))
                }
                try await writer.finish(nil)
            })
        }
        let timers = DeadlineTimers(eventLoop: MultiThreadedEventLoopGroup.singleton.next())
        let app = Application(
            router: router,
            server: .http1WithEarlyAnswers(
                requestDeadline: RequestDeadline(timeout: Self.deadline, timers: timers) { request in
                    var head = HTTPResponse(status: .serviceUnavailable)
                    head.headerFields[.retryAfter] = "5"
                    return (head, ByteBuffer(string: "too slow: \(request.path ?? "")"))
                }
            ),
            configuration: .init(address: .hostname("127.0.0.1", port: 0))
        )
        try await app.test(.ahc(.http)) { client in
            // The hanging work ends before the server stops: a graceful shutdown waits for it.
            defer { for continuation in hanging.withLock({ $0 }) { continuation.resume() } }
            try await test(client)
        }
    }

    @Test("Work that never ends is answered at the deadline, with the connection closed after it")
    func hangingWork() async throws {
        try await withServer { client in
            let started = ContinuousClock.now
            let response = try await client.execute(uri: "/hang", method: .get)
            let elapsed = ContinuousClock.now - started
            #expect(response.status == .serviceUnavailable)
            #expect(String(buffer: response.body) == "too slow: /hang")
            #expect(response.headers[.retryAfter] == "5")
            #expect(response.headers[.connection] == "close")
            #expect(elapsed >= Self.deadline && elapsed < .seconds(2))

            // The server goes on answering, on a new connection.
            let quick = try await client.execute(uri: "/quick", method: .get)
            #expect(quick.status == .ok && String(buffer: quick.body) == "quick")
        }
    }

    @Test("Work that answers after the deadline is dropped; the client has the deadline's answer")
    func lateWork() async throws {
        try await withServer { client in
            let response = try await client.execute(uri: "/late", method: .get)
            #expect(response.status == .serviceUnavailable)
            #expect(String(buffer: response.body) == "too slow: /late")
            try await Task.sleep(for: .milliseconds(500))
            for _ in 0..<3 {
                let quick = try await client.execute(uri: "/quick", method: .get)
                #expect(quick.status == .ok && String(buffer: quick.body) == "quick")
            }
        }
    }

    @Test("A request that follows others on a keep-alive connection has its whole deadline")
    func laterRequestOnBusyConnection() async throws {
        try await withServer { client in
            // Quick requests for most of a deadline: the connection's timer is set by the first.
            let run = ContinuousClock.now
            while ContinuousClock.now - run < Self.deadline * 2 / 3 {
                let quick = try await client.execute(uri: "/quick", method: .get)
                #expect(quick.status == .ok)
            }
            // Work that takes two thirds of the deadline, on the same connection, is not cut
            // short by the timer the first request set.
            let started = ContinuousClock.now
            let slow = try await client.execute(uri: "/slow", method: .get)
            #expect(slow.status == .ok && String(buffer: slow.body) == "slow")
            // Work that never ends is answered a whole deadline after it began.
            let hang = try await client.execute(uri: "/hang", method: .get)
            let elapsed = ContinuousClock.now - started
            #expect(hang.status == .serviceUnavailable)
            #expect(elapsed >= Self.deadline * 5 / 3 && elapsed < .seconds(3))
        }
    }

    @Test("A response that began in time streams past the deadline, and keep-alive requests are each timed afresh")
    func streamingAndKeepAlive() async throws {
        try await withServer { client in
            let started = ContinuousClock.now
            let stream = try await client.execute(uri: "/stream", method: .get)
            #expect(stream.status == .ok && String(buffer: stream.body) == "one two three")
            #expect(ContinuousClock.now - started >= .milliseconds(500))
            // More requests than the deadline is long, one after another: none is cut short.
            let run = ContinuousClock.now
            while ContinuousClock.now - run < Self.deadline * 2 {
                let quick = try await client.execute(uri: "/quick", method: .get)
                #expect(quick.status == .ok)
                #expect(quick.headers[.connection] != "close")
            }
        }
    }
}
