public import HTTPTypes
public import MultiRegion
public import NIOCore

/// A deadline for every request on a connection, and the answer for one that runs out of
/// time: see ``EarlyAnswerHandler``.
public struct RequestDeadline: Sendable {
    /// The answer for a request that ran out of time: its head and its whole body.
    public typealias Answer = @Sendable (HTTPRequest) -> (HTTPResponse, ByteBuffer)

    /// How long a request may take to begin its response.
    public let timeout: Duration
    /// The clock that times the requests.
    public let timers: DeadlineTimers
    /// Makes the answer for a request that ran out of time (called on the connection's event
    /// loop; `Connection: close` and `Content-Length` are added to it).
    public let answer: Answer

    /// - Parameters:
    ///   - timeout: How long a request may take to begin its response.
    ///   - timers: The clock that times the requests.
    ///   - answer: The response for a request that ran out of time.
    public init(timeout: Duration, timers: DeadlineTimers, answer: @escaping Answer) {
        self.timeout = timeout
        self.timers = timers
        self.answer = answer
    }
}
