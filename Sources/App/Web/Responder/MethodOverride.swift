import Hummingbird

/// Lets an HTML form send PUT, PATCH or DELETE with a `_method` field on a POST.
///
/// The router picks a route by method before any router middleware runs, so `AppResponder`
/// applies this before routing.
enum MethodOverride {
    static var allowed: [String: HTTPRequest.Method] { ["PUT": .put, "PATCH": .patch, "DELETE": .delete] }

    /// Whether `request` is a form POST small enough to look into for a `_method` field.
    /// Bodies above `maximumBody` are left alone, for the route to refuse with a 413 page; a
    /// chunked body is left to the routes, which refuse one over the limit the same way.
    static func mayOverride(_ request: Request, maximumBody: Int) -> Bool {
        request.method == .post
            && request.headers[.contentType]?.lowercased().hasPrefix("application/x-www-form-urlencoded") == true
            && request.headers[.contentLength].flatMap({ Int($0) }).map { $0 <= maximumBody } == true
    }

    /// `request` with the method its form names, its body collected (and still readable).
    static func apply(to request: Request, maximumBody: Int) async throws -> Request {
        var request = request
        let body = try await request.collectBody(upTo: maximumBody)
        guard let method = overriddenMethod(in: String(buffer: body)) else { return request }
        var head = request.head
        head.method = method
        return Request(head: head, body: request.body)
    }

    /// The method named by a `_method` field in a URL-encoded form, if it is one we allow.
    static func overriddenMethod(in form: String) -> HTTPRequest.Method? {
        for pair in form.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, parts[0] == "_method" else { continue }
            return allowed[parts[1].uppercased()]
        }
        return nil
    }
}
