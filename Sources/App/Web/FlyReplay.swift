import HTTPTypes
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Hummingbird

/// Fly's request replay: a response with `fly-replay: region=R;state=S` makes Fly's proxy
/// run the whole request again in region R.
enum FlyReplay {
    static let replayHeader = HTTPField.Name("fly-replay")!
    static let sourceHeader = HTTPField.Name("fly-replay-src")!

    /// Why a request is replayed; sent as `state` and shown by the replayed instance.
    enum Reason: String, Sendable, CaseIterable {
        /// A write arrived outside the primary region.
        case write
        /// A GET tried to write and the replica refused it (SQLSTATE 25006).
        case capturedWrite = "captured_write"
        /// The replica did not catch up with the reader's own write in time.
        case stale
        /// The replica is unreachable.
        case replicaDown = "replica_down"
    }

    /// The 409 that asks Fly to replay the request in `region`.
    static func response(to region: String, reason: Reason) -> Response {
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

    /// The fields of a `fly-replay-src` header: `instance=…;region=…;t=…;state=…`.
    static func source(of request: Request) -> [String: String]? {
        guard let value = request.headers[sourceHeader] else { return nil }
        var fields: [String: String] = [:]
        for part in value.split(separator: ";") {
            let pair = part.split(separator: "=", maxSplits: 1)
            guard pair.count == 2 else { continue }
            fields[pair[0].trimmed] = pair[1].trimmed
        }
        return fields
    }
}
