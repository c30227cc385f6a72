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
    /// Fly cannot replay a request larger than this.
    public static let maximumReplayableBody = 1_048_576

    /// Why a request is replayed.
    public typealias Reason = ReplayReason

    /// The 409 that asks Fly to replay the request in `region`.
    ///
    /// - Parameters:
    ///   - region: The region to run the request in.
    ///   - reason: Sent as `state`, shown by the replayed instance and counted.
    public static func response(to region: String, reason: Reason) -> Response {
        var headers = HTTPFields()
        headers[replayHeader] = "region=\(region);state=\(reason.rawValue)"
        headers[.contentType] = "text/plain; charset=utf-8"
        headers[.cacheControl] = "no-store"
        return Response(
            status: .conflict,
            headers: headers,
            body: .init(byteBuffer: ByteBuffer(string: "Replaying in the primary region (\(region)).\n"))
        )
    }

    /// The fields of the request's `fly-replay-src` header, if it has one.
    public static func source(of request: Request) -> [String: String]? {
        guard let value = request.headers[sourceHeader] else { return nil }
        var fields: [String: String] = [:]
        for part in value.split(separator: ";") {
            let pair = part.split(separator: "=", maxSplits: 1)
            guard pair.count == 2 else { continue }
            fields[pair[0].trimmingWhitespace] = pair[1].trimmingWhitespace
        }
        return fields
    }

    /// The reason (`state`) in a `fly-replay` value such as `region=nrt;state=write`.
    public static func reason(in header: String) -> Reason? {
        header.split(separator: ";").lazy.compactMap { part -> Reason? in
            let pair = part.split(separator: "=", maxSplits: 1)
            guard pair.count == 2, pair[0].trimmingWhitespace == "state" else { return nil }
            return Reason(rawValue: pair[1].trimmingWhitespace)
        }.first
    }
}

