import HTTPTypes
import NIOCore
import NIOHTTPTypes

/// Closes the connection cleanly after a response that was sent before the request's body
/// had arrived (a 413, a 403, a replay, a deadline 503).
///
/// Without it, the server stops reading the body it will never use, and a client that sends
/// the whole body before reading (Python's urllib, some browsers and proxies) blocks on a full
/// TCP window until its own timeout. This handler marks such a response `Connection: close`,
/// then reads and discards the rest of the body (at most `lingerLimit` bytes, for at most
/// `lingerTime`), so the client finishes sending and reads the answer, and then closes.
///
/// It sits in Hummingbird's HTTP/1 pipeline after the HTTP codec, so it sees request and
/// response parts and needs no help from the routes. The app and the local edge both use it:
/// `server: .http1WithEarlyAnswers()`.
public final class EarlyAnswerHandler: ChannelDuplexHandler, RemovableChannelHandler {
    /// Request parts from the HTTP codec.
    public typealias InboundIn = HTTPRequestPart
    /// Request parts, passed on unchanged.
    public typealias InboundOut = HTTPRequestPart
    /// Response parts from the server.
    public typealias OutboundIn = HTTPResponsePart
    /// Response parts, passed on (`Connection: close` added to an early answer).
    public typealias OutboundOut = HTTPResponsePart

    private enum State {
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

    private let lingerTime: TimeAmount
    private let lingerLimit: Int
    private var state = State.idle
    /// Whether the current request's `.end` has arrived.
    private var requestEnded = true
    /// Whether the early answer has been written to the socket.
    private var answerWritten = false
    private var lingerTimer: Scheduled<Void>?

    /// A handler that reads and discards at most `lingerLimit` bytes of an unwanted body, for at most `lingerTime`.
    public init(lingerTime: TimeAmount = .seconds(10), lingerLimit: Int = 64 * 1024 * 1024) {
        self.lingerTime = lingerTime
        self.lingerLimit = lingerLimit
    }

    /// Passes request parts on, or drops the rest of a body whose request was already answered.
    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        switch (state, part) {
        case (.draining(let bytesLeft), .body(let buffer)):
            let left = bytesLeft - buffer.readableBytes
            if left <= 0 { close(context) } else { state = .draining(bytesLeft: left) }
        case (.draining, .end):
            close(context)
        case (.draining, _), (.closed, _):
            break
        case (_, .head):
            state = .receivingBody
            requestEnded = false
            context.fireChannelRead(data)
        case (_, .end):
            requestEnded = true
            if case .receivingBody = state { state = .idle }
            context.fireChannelRead(data)
        case (_, .body):
            context.fireChannelRead(data)
        }
    }

    /// Closes the connection once an early answer is written and its body is read.
    public func channelReadComplete(context: ChannelHandlerContext) {
        // While draining nobody above asks for more data: ask for it here.
        if case .draining = state { context.read() } else { context.fireChannelReadComplete() }
    }

    /// Marks an answer sent before its request's body ended, so the connection closes after it.
    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        // Most responses go out after their request ended (`idle`): they pass as they are,
        // without being unwrapped.
        switch state {
        case .receivingBody:
            guard case .head(var head) = unwrapOutboundIn(data) else { break }
            state = .answeredEarly
            head.headerFields[.connection] = "close"
            context.write(wrapOutboundOut(.head(head)), promise: promise)
            return
        case .answeredEarly:
            guard case .end = unwrapOutboundIn(data) else { break }
            state = .draining(bytesLeft: lingerLimit)
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
            return
        case .idle, .draining, .closed:
            break
        }
        context.write(data, promise: promise)
    }

    /// Fails nothing: pending work ends with the channel.
    public func handlerRemoved(context: ChannelHandlerContext) {
        lingerTimer?.cancel()
    }

    /// Closes once the drain is over and the answer is out (or the linger time is up).
    private func close(_ context: ChannelHandlerContext, evenIfUnwritten: Bool = false) {
        guard case .draining = state else { return }
        requestEnded = true
        guard answerWritten || evenIfUnwritten else { return }
        state = .closed
        lingerTimer?.cancel()
        context.close(promise: nil)
    }
}
