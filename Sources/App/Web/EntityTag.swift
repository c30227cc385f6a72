import HTTPTypes
import Hummingbird

/// A user's version as an HTTP entity tag: `GET /users/{id}` sends `ETag: "3"`, and a `PUT`,
/// `PATCH` or `DELETE` with `If-Match: "3"` only applies while the user is still at version 3.
enum EntityTag {
    /// The `ETag` value for a version.
    static func value(for version: Int) -> String {
        "\"\(version)\""
    }

    /// The versions named by the request's `If-Match`: `nil` without the header or with `*`
    /// (any version). Weak and foreign tags never match (If-Match compares strongly), so a
    /// header that names only those yields an empty list.
    static func versions(in request: Request) -> [Int]? {
        let values = request.headers[values: .ifMatch]
        guard !values.isEmpty else { return nil }
        var versions: [Int] = []
        for tag in values.flatMap({ $0.split(separator: ",") }) {
            let tag = tag.trimmed
            if tag == "*" { return nil }
            guard tag.count >= 3, tag.first == "\"", tag.last == "\"", let version = Int(tag.dropFirst().dropLast()) else { continue }
            versions.append(version)
        }
        return versions
    }
}
