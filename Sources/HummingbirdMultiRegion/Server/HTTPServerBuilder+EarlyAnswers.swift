public import NIOCore
public import HummingbirdCore

extension HTTPServerBuilder {
    /// HTTP/1.1 with ``EarlyAnswerHandler``: a connection whose request was answered before its
    /// body arrived (a 409 replay, a 413) is closed cleanly instead of reset.
    ///
    /// - Parameter idleTimeout: Time before an idle connection closes, if any.
    public static func http1WithEarlyAnswers(idleTimeout: TimeAmount? = nil) -> HTTPServerBuilder {
        .http1(configuration: .init(additionalChannelHandlers: [EarlyAnswerHandler()], idleTimeout: idleTimeout))
    }
}
