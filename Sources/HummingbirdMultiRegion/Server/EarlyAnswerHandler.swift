import HTTPTypes
import MultiRegion
public import NIOCore
import NIOHTTPTypes

/// Answers a request early when it must be, and closes the connection cleanly after any
/// answer sent before the request's body arrived.
///
/// - **Early answers** (a 413, a 403, a replay, a deadline's 503): without this handler the
///   server stops reading a body it will never use, and a client that sends the whole body
///   before reading (Python's urllib, some browsers and proxies) blocks on a full TCP window
///   until its own timeout. The handler marks such a response `Connection: close`, then reads
///   and discards the rest of the body (at most `lingerLimit` bytes, for at most
///   `lingerTime`), so the client finishes sending and reads the answer, and then closes.
/// - **The request deadline** (with a ``RequestDeadline``): each request is timed from its
///   head to the head of its response. When the deadline passes first, the handler writes the
///   deadline's answer itself (the app's 503 page, say) with `Connection: close`, closes the
///   connection once the answer is out, and drops whatever the work responds later. The work
///   is not interrupted: it ends on its own. A response that has begun (a live stream, a
///   download) is not bounded. Pipelined requests are timed from when their turn comes.
///
/// It sits in Hummingbird's HTTP/1 pipeline after the HTTP codec, so it sees request and
/// response parts and needs no help from the routes and no task per request:
/// `server: .http1WithEarlyAnswers(requestDeadline: …)`. One handler does both jobs, so a
/// request passes one extra pipeline stage, not two. A connection keeps at most one timer on
/// the deadline's clock: it is set when a request starts and none is pending, and when it
/// fires it answers the request it finds late, or is set again for the rest of that request's
/// time, so a busy keep-alive connection touches the clock about once per deadline, not
/// twice per request.
public final class EarlyAnswerHandler: ChannelDuplexHandler, RemovableChannelHandler {
    /// Request parts from the HTTP codec.
    public typealias InboundIn = HTTPRequestPart
    /// Request parts, passed on unchanged.
    public typealias InboundOut = HTTPRequestPart
    /// Response parts from the server.
    public typealias OutboundIn = HTTPResponsePart
    /// Response parts, passed on (`Connection: close` added to an early answer), or dropped
    /// after the deadline's answer.
    public typealias OutboundOut = HTTPResponsePart

    /// Where the current request's body is, for answers sent before it ended.
    private enum BodyState {
        /// Between requests, or the request's body has fully arrived.
        case idle
        /// The request's head arrived and its body is still coming.
        case receivingBody
        /// A response went out before the body arrived; once it is written, drain and close.
        case answeredEarly
        /// The early response is written; the rest of the body is discarded until it ends.
        case draining(bytesLeft: Int)
        case closed
    }

    /// Where the request being timed is.
    private enum Timing {
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

    private let lingerTime: TimeAmount
    private let lingerLimit: Int
    private var body = BodyState.idle
    /// Whether the current request's `.end` has arrived.
    private var requestEnded = true
    /// Whether the early answer has been written to the socket.
    private var answerWritten = false
    private var lingerTimer: Scheduled<Void>?

    private let deadline: RequestDeadline?
    private var timing = Timing.idle
    /// Requests that arrived before the current one was answered (HTTP pipelining), with
    /// whether each one's `.end` arrived; each is timed from when its turn comes.
    private var queued: [(head: HTTPRequest, ended: Bool)] = []
    /// The connection's one timer on the deadline's clock, while it is set.
    private var timer: DeadlineTimers.Timer?
    /// Called by the clock (on its own event loop); made once per connection.
    private var fire: (@Sendable () -> Void)?

    /// - Parameters:
    ///   - deadline: The deadline every request is answered within, or `nil` for none.
    ///   - lingerTime: How long to read and discard a body whose request was answered early.
    ///   - lingerLimit: How many bytes of such a body to read and discard at most.
    public init(deadline: RequestDeadline? = nil, lingerTime: TimeAmount = .seconds(10), lingerLimit: Int = 64 * 1024 * 1024) {
        self.deadline = deadline
        self.lingerTime = lingerTime
        self.lingerLimit = lingerLimit
    }

    /// Makes the connection's one timer callback, when requests have a deadline.
    public func handlerAdded(context: ChannelHandlerContext) {
        guard deadline != nil else { return }
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let eventLoop = context.eventLoop
        fire = {
            eventLoop.execute {
                let (handler, context) = loopBound.value
                handler.timerFired(context: context)
            }
        }
    }

    /// Stops timing and lingering: the connection is gone.
    public func handlerRemoved(context: ChannelHandlerContext) {
        lingerTimer?.cancel()
        if let timer, let deadline { deadline.timers.cancel(timer) }
        timer = nil
        fire = nil
        // A clock callback already on its way finds nothing to answer.
        timing = .idle
        queued = []
    }

    // MARK: - Requests

    /// Passes request parts on and times each request, or drops the rest of a body whose
    /// request was already answered.
    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            switch body {
            case .draining, .closed: return
            case .idle, .receivingBody, .answeredEarly: break
            }
            body = .receivingBody
            requestEnded = false
            if deadline != nil {
                if case .idle = timing { start(head, ended: false) } else { queued.append((head, false)) }
            }
        case .body(let buffer):
            switch body {
            case .draining(let bytesLeft):
                let left = bytesLeft - buffer.readableBytes
                if left <= 0 { close(context) } else { body = .draining(bytesLeft: left) }
                return
            case .closed: return
            case .idle, .receivingBody, .answeredEarly: break
            }
        case .end:
            switch body {
            case .draining:
                close(context)
                return
            case .closed: return
            case .receivingBody: body = .idle
            case .idle, .answeredEarly: break
            }
            requestEnded = true
            if deadline != nil {
                if !queued.isEmpty {
                    queued[queued.count - 1].ended = true
                } else if case .waiting(let head, let started, _) = timing {
                    timing = .waiting(head: head, started: started, ended: true)
                }
            }
        }
        context.fireChannelRead(data)
    }

    /// Closes the connection once an early answer is written and its body is read.
    public func channelReadComplete(context: ChannelHandlerContext) {
        // While draining nobody above asks for more data: ask for it here.
        if case .draining = body { context.read() } else { context.fireChannelReadComplete() }
    }

    // MARK: - Responses

    /// Stops timing at the response's head, drops the work's response after the deadline's,
    /// and marks an answer sent before its request's body ended, so the connection closes
    /// after it.
    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        // Without a deadline, most responses go out after their request ended: they pass as
        // they are, without being unwrapped.
        if deadline == nil, case .idle = body {
            context.write(data, promise: promise)
            return
        }
        let part = unwrapOutboundIn(data)
        switch (timing, part) {
        case (.answered, _):
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        case (.waiting, .head(let head)) where head.status.kind != .informational:
            timing = .responding
        case (.responding, .end):
            timing = .idle
            if !queued.isEmpty {
                let next = queued.removeFirst()
                start(next.head, ended: next.ended)
            }
        default:
            break
        }
        send(part, data, context: context, promise: promise)
    }

    /// Writes a response part, answering early when the request's body is still coming.
    private func send(_ part: HTTPResponsePart, _ data: NIOAny, context: ChannelHandlerContext, promise: EventLoopPromise<Void>?) {
        switch (body, part) {
        case (.receivingBody, .head(var head)):
            body = .answeredEarly
            head.headerFields[.connection] = "close"
            context.write(wrapOutboundOut(.head(head)), promise: promise)
        case (.answeredEarly, .end):
            body = .draining(bytesLeft: lingerLimit)
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            let written = context.eventLoop.makePromise(of: Void.self)
            written.futureResult.whenComplete { _ in
                let (handler, context) = loopBound.value
                handler.answerWritten = true
                // The body ended while the answer was being written: nothing left to drain.
                if handler.requestEnded { handler.close(context) }
            }
            written.futureResult.cascade(to: promise)
            context.writeAndFlush(data, promise: written)
            lingerTimer = context.eventLoop.scheduleTask(in: lingerTime) {
                let (handler, context) = loopBound.value
                handler.close(context, evenIfUnwritten: true)
            }
            context.read()
        default:
            context.write(data, promise: promise)
        }
    }

    // MARK: - The deadline

    private func start(_ head: HTTPRequest, ended: Bool) {
        timing = .waiting(head: head, started: .now(), ended: ended)
        if timer == nil, let deadline, let fire {
            timer = deadline.timers.schedule(in: deadline.timeout, fire)
        }
    }

    /// The connection's timer fired: answer the request being timed if its deadline has
    /// passed, or set the timer again for the rest of its time.
    private func timerFired(context: ChannelHandlerContext) {
        timer = nil
        guard let deadline, let fire, case .waiting(let request, let started, let requestEnded) = timing else { return }
        let elapsed = NIODeadline.now() - started
        let timeout = TimeAmount.nanoseconds(deadline.timeout.nanoseconds)
        guard elapsed >= timeout else {
            timer = deadline.timers.schedule(in: .nanoseconds((timeout - elapsed).nanoseconds), fire)
            return
        }
        timing = .answered
        queued = []
        let (answerHead, answerBody) = deadline.answer(request)
        var head = answerHead
        head.headerFields[.connection] = "close"
        head.headerFields[.contentLength] = String(answerBody.readableBytes)
        send(.head(head), wrapOutboundOut(.head(head)), context: context, promise: nil)
        if answerBody.readableBytes > 0 {
            send(.body(answerBody), wrapOutboundOut(.body(answerBody)), context: context, promise: nil)
        }
        let written = context.eventLoop.makePromise(of: Void.self)
        send(.end(nil), wrapOutboundOut(.end(nil)), context: context, promise: written)
        context.flush()
        // A body still coming is drained first, and the connection closed after it.
        guard requestEnded else { return }
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        written.futureResult.whenComplete { _ in loopBound.value.close(promise: nil) }
    }

    // MARK: - Closing

    /// Closes once the drain is over and the answer is out (or the linger time is up).
    private func close(_ context: ChannelHandlerContext, evenIfUnwritten: Bool = false) {
        guard case .draining = body else { return }
        requestEnded = true
        guard answerWritten || evenIfUnwritten else { return }
        body = .closed
        lingerTimer?.cancel()
        context.close(promise: nil)
    }
}
