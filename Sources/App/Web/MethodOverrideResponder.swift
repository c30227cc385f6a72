import Hummingbird

/// Lets an HTML form send PUT, PATCH or DELETE with a `_method` field on a POST.
///
/// The router picks a route by method before any router middleware runs, so this wraps the
/// whole router instead of being one of its middlewares.
struct MethodOverrideResponder<Next: HTTPResponder>: HTTPResponder {
    typealias Context = Next.Context

    let next: Next
    /// Bodies above this are left alone, for the route to refuse with a 413 page.
    let maximumBody: Int

    static var allowed: [String: HTTPRequest.Method] { ["PUT": .put, "PATCH": .patch, "DELETE": .delete] }

    func respond(to request: Request, context: Context) async throws -> Response {
        guard request.method == .post,
            request.headers[.contentType]?.lowercased().hasPrefix("application/x-www-form-urlencoded") == true,
            // A chunked body is left to the routes, which refuse one over the limit with the
            // same 413 page as a declared one.
            let length = request.headers[.contentLength].flatMap({ Int($0) }), length <= maximumBody
        else {
            return try await next.respond(to: request, context: context)
        }
        var request = request
        let body = try await request.collectBody(upTo: maximumBody)
        guard let method = Self.overriddenMethod(in: String(buffer: body)) else {
            return try await next.respond(to: request, context: context)
        }
        var head = request.head
        head.method = method
        return try await next.respond(to: Request(head: head, body: request.body), context: context)
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
