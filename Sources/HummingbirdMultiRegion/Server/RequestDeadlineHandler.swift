public import HTTPTypes
public import MultiRegion
public import NIOCore
import NIOHTTPTypes

/// Answers every request within a deadline, whatever the work behind it does.
///
/// It sits in the HTTP/1 pipeline beside ``EarlyAnswerHandler`` and times each request from
/// its head to the head of its response. When the deadline passes first, it writes the
/// answer itself (the app's 503 page, say) with `Connection: close`, closes the connection
/// once the answer is out, and drops whatever the work responds later. The work is not
/// interrupted: it ends on its own (a handler stuck on a server that never answers holds its
/// connection's task, not a client).
///
/// Being a channel handler, it costs a request one entry in the coarse `DeadlineTimers`
/// clock and no task of its own: a deadline built around the responder has to run every
/// request in a task of its own to be able to answer while the work is stuck.
///
/// The time of a streamed body (a live stream, a download) is not bounded: the response has
/// begun by then.
public final class RequestDeadlineHandler: ChannelDuplexHandler, RemovableChannelHandler {
    /// Request parts from the HTTP codec.
    public typealias InboundIn = HTTPRequestPart
    /// Request parts, passed on unchanged.
    public typealias InboundOut = HTTPRequestPart
    /// Response parts from the server.
    public typealias OutboundIn = HTTPResponsePart
    /// Response parts, passed on (or dropped after the deadline's answer).
    public typealias OutboundOut = HTTPResponsePart

    /// The answer for a request that ran out of time: its head and its whole body.
    public typealias Answer = @Sendable (HTTPRequest) -> (HTTPResponse, ByteBuffer)

    private enum State {
        /// No request is waiting for its response.
        case idle
        /// `head` arrived at `started` (and its `.end` too, when `ended`); its response has
        /// not begun.
        case waiting(head: HTTPRequest, started: NIODeadline, ended: Bool)
        /// The response's head went out; its body is on its way.
        case responding
        /// The deadline's answer went out; the work's own response is dropped.
        case answered
    }

    private let timeout: Duration
    private let timers: DeadlineTimers
    private let answer: Answer
    private var state = State.idle
    /// Requests that arrived before the current one was answered (HTTP pipelining), with
    /// whether each one's `.end` arrived; each is timed from when its turn comes.
    private var queued: [(head: HTTPRequest, ended: Bool)] = []
    private var timer: DeadlineTimers.Timer?
    /// Called by the clock (on its own event loop); made once per connection.
    private var fire: (@Sendable () -> Void)?

    /// - Parameters:
    ///   - timeout: How long a request may take to begin its response.
    ///   - timers: The clock that times the requests.
    ///   - answer: The response for a request that ran out of time (called on the
    ///     connection's event loop; `Connection: close` is added to it).
    public init(timeout: Duration, timers: DeadlineTimers, answer: @escaping Answer) {
        self.timeout = timeout
        self.timers = timers
        self.answer = answer
    }

    /// Makes the connection's one timer callback.
    public func handlerAdded(context: ChannelHandlerContext) {
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let eventLoop = context.eventLoop
        fire = {
            eventLoop.execute {
                let (handler, context) = loopBound.value
                handler.deadlineMayHavePassed(context: context)
            }
        }
    }

    /// Stops timing: the connection is gone.
    public func handlerRemoved(context: ChannelHandlerContext) {
        stopTimer()
        fire = nil
        // A callback already on its way finds nothing to answer.
        state = .idle
        queued = []
    }

    /// Starts timing a request at its head; passes every part on.
    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            if case .idle = state {
                start(head, ended: false)
            } else {
                queued.append((head, false))
            }
        case .end:
            if !queued.isEmpty {
                queued[queued.count - 1].ended = true
            } else if case .waiting(let head, let started, _) = state {
                state = .waiting(head: head, started: started, ended: true)
            }
        case .body:
            break
        }
        context.fireChannelRead(data)
    }

    /// Stops timing at the response's head; drops the work's response after the deadline's.
    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let part = unwrapOutboundIn(data)
        switch (state, part) {
        case (.answered, _):
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        case (.waiting, .head(let head)) where head.status.kind != .informational:
            stopTimer()
            state = .responding
        case (.responding, .end):
            state = .idle
            if !queued.isEmpty {
                let next = queued.removeFirst()
                start(next.head, ended: next.ended)
            }
        default:
            break
        }
        context.write(data, promise: promise)
    }

    private func start(_ head: HTTPRequest, ended: Bool) {
        state = .waiting(head: head, started: .now(), ended: ended)
        if let fire { timer = timers.schedule(in: timeout, fire) }
    }

    private func stopTimer() {
        if let timer { timers.cancel(timer) }
        timer = nil
    }

    /// The clock fired: answer the request being timed if its deadline has passed (a late
    /// callback for an earlier request finds a later one not yet due, and leaves it).
    private func deadlineMayHavePassed(context: ChannelHandlerContext) {
        guard case .waiting(let request, let started, let requestEnded) = state,
            NIODeadline.now() - started >= .nanoseconds(timeout.nanoseconds)
        else { return }
        timer = nil
        state = .answered
        queued = []
        let (answerHead, body) = answer(request)
        var head = answerHead
        head.headerFields[.connection] = "close"
        head.headerFields[.contentLength] = String(body.readableBytes)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        if body.readableBytes > 0 { context.write(wrapOutboundOut(.body(body)), promise: nil) }
        let written = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: written)
        // A body still coming is drained by the early-answer handler, which closes after it.
        guard requestEnded else { return }
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        written.futureResult.whenComplete { _ in loopBound.value.close(promise: nil) }
    }
}
