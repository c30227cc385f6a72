public import NIOCore
public import HummingbirdCore

extension HTTPServerBuilder {
    /// HTTP/1.1 with ``EarlyAnswerHandler``: a connection whose request was answered before its
    /// body arrived (a 409 replay, a 413) is closed cleanly instead of reset, and, with a
    /// deadline, every request is answered within it.
    ///
    /// - Parameters:
    ///   - idleTimeout: Time before an idle connection closes, if any.
    ///   - requestDeadline: The deadline every request is answered within, and the answer
    ///     for one that runs out of time; `nil` for none.
    public static func http1WithEarlyAnswers(idleTimeout: TimeAmount? = nil, requestDeadline: RequestDeadline? = nil) -> HTTPServerBuilder {
        .http1(
            configuration: .init(
                additionalChannelHandlers: [EarlyAnswerHandler(deadline: requestDeadline)],
                idleTimeout: idleTimeout
            )
        )
    }
}
