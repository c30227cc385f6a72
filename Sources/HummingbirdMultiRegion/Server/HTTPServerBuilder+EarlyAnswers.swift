public import NIOCore
public import HummingbirdCore

extension HTTPServerBuilder {
    /// HTTP/1.1 with ``EarlyAnswerHandler``: a connection whose request was answered before its
    /// body arrived (a 409 replay, a 413) is closed cleanly instead of reset.
    ///
    /// - Parameters:
    ///   - idleTimeout: Time before an idle connection closes, if any.
    ///   - requestDeadline: Makes a ``RequestDeadlineHandler`` for each connection, to answer
    ///     every request within a deadline; `nil` for none.
    public static func http1WithEarlyAnswers(
        idleTimeout: TimeAmount? = nil,
        requestDeadline: (@Sendable () -> RequestDeadlineHandler)? = nil
    ) -> HTTPServerBuilder {
        .http1(
            configuration: .init(
                additionalChannelHandlers: [EarlyAnswerHandler()] + (requestDeadline.map { [$0()] } ?? []),
                idleTimeout: idleTimeout
            )
        )
    }
}
