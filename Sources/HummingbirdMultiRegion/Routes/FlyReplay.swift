public import HTTPTypes
public import Hummingbird
public import MultiRegion

/// Fly's request replay: a response with `fly-replay: region=R;state=S` makes Fly's proxy
/// run the whole request again in region R.
public enum FlyReplay {
    /// The response header that asks for a replay.
    public static let replayHeader = HTTPField.Name("fly-replay")!
    /// The request header a replayed request carries: `instance=…;region=…;t=…;state=…`.
    public static let sourceHeader = HTTPField.Name("fly-replay-src")!
    /// The request header of a replay that failed and came back to this instance:
    /// `instance=…;region=…;reason=timeout|retries_exhausted|no_candidate;elapsed_ms=…`.
    public static let failedHeader = HTTPField.Name("fly-replay-failed")!
    /// Fly cannot replay a request over 1 MB; this keeps a margin below it.
    public static let maximumReplayableBody = 1_000_000

    /// Why a request is replayed.
    public typealias Reason = ReplayReason

    /// The 409 that asks Fly to replay the request in `region`, and to give it back to this
    /// machine (`fallback=force_self`, with `fly-replay-failed`) when it cannot within `timeout`.
    ///
    /// - Parameters:
    ///   - region: The region to run the request in.
    ///   - reason: Sent as `state`, shown by the replayed instance and counted.
    ///   - timeout: How long the proxy may try.
    public static func response(to region: String, reason: Reason, timeout: Duration) -> Response {
        var headers = HTTPFields()
        headers[replayHeader] = "region=\(region);state=\(reason.rawValue);timeout=\(milliseconds(timeout))ms;fallback=force_self"
        headers[.contentType] = "text/plain; charset=utf-8"
        headers[.cacheControl] = "no-store"
        return Response(
            status: .conflict,
            headers: headers,
            body: .init(byteBuffer: ByteBuffer(string: "Replaying in the primary region (\(region)).\n"))
        )
    }

    /// What a `fly-replay-failed` header says.
    public struct Failure: Sendable, Equatable {
        /// `timeout`, `retries_exhausted` or `no_candidate`.
        public let reason: String
        /// How long the proxy tried, when it said.
        public let elapsed: Duration?
    }

    /// The failed replay this request is the fallback of, if it is one.
    public static func failure(of request: Request) -> Failure? {
        guard let value = request.headers[failedHeader] else { return nil }
        let fields = fields(of: value)
        return Failure(reason: fields["reason"] ?? "unknown", elapsed: fields["elapsed_ms"].flatMap { Int64($0) }.map { .milliseconds($0) })
    }

    /// Whole milliseconds, at least 1.
    static func milliseconds(_ duration: Duration) -> Int64 {
        max(1, duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)
    }

    /// The fields of the request's `fly-replay-src` header, if it has one.
    public static func source(of request: Request) -> [String: String]? {
        request.headers[sourceHeader].map(fields(of:))
    }

    /// `key=value;key=value` as a dictionary.
    static func fields(of value: String) -> [String: String] {
        var fields: [String: String] = [:]
        for part in value.split(separator: ";") {
            let pair = part.split(separator: "=", maxSplits: 1)
            guard pair.count == 2 else { continue }
            fields[pair[0].trimmingWhitespace] = pair[1].trimmingWhitespace
        }
        return fields
    }

}

