import Hummingbird

/// Lets an HTML form send PUT, PATCH or DELETE with a `_method` field on a POST.
struct MethodOverrideMiddleware<Context: RequestContext>: RouterMiddleware {
    static var allowed: [String: HTTPRequest.Method] { ["PUT": .put, "PATCH": .patch, "DELETE": .delete] }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.method == .post,
            request.headers[.contentType]?.lowercased().hasPrefix("application/x-www-form-urlencoded") == true
        else {
            return try await next(request, context)
        }
        var request = request
        let body = try await request.collectBody(upTo: context.maxUploadSize)
        guard let method = Self.overriddenMethod(in: String(buffer: body)) else {
            return try await next(request, context)
        }
        var head = request.head
        head.method = method
        return try await next(Request(head: head, body: request.body), context)
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
