import HTTPTypes
import Hummingbird

/// Adds the headers every response of a template should carry, error pages and deadline
/// answers included (it wraps the whole responder):
///
/// - a strict `Content-Security-Policy`: the pages use no inline script or style;
/// - `X-Content-Type-Options: nosniff` and `Referrer-Policy: strict-origin-when-cross-origin`;
/// - when the request came over HTTPS (`X-Forwarded-Proto: https`, as Fly's proxy sets it),
///   `Strict-Transport-Security`, and `Secure` on every cookie the response sets.
struct SecurityHeadersResponder<Next: HTTPResponder>: HTTPResponder {
    typealias Context = Next.Context

    let next: Next

    static var contentSecurityPolicy: String { SecurityHeaderFields.contentSecurityPolicyText }
    static var forwardedProto: HTTPField.Name { SecurityHeaderFields.forwardedProto }
    static var referrerPolicy: HTTPField.Name { SecurityHeaderFields.referrerPolicy }

    func respond(to request: Request, context: Context) async throws -> Response {
        var response = try await next.respond(to: request, context: context)
        Self.secure(&response, overHTTPS: Self.isHTTPS(request))
        return response
    }

    /// Whether the client reached the proxy in front of the app over HTTPS.
    static func isHTTPS(_ request: Request) -> Bool {
        request.headers[forwardedProto]?.split(separator: ",").first?.trimmed.lowercased() == "https"
    }

    /// Adds the headers to `response`.
    static func secure(_ response: inout Response, overHTTPS: Bool) {
        // Whole fields made once: setting a value by its text checks every character of it.
        response.headers[fields: .contentSecurityPolicy] = SecurityHeaderFields.contentSecurityPolicy
        response.headers[fields: .xContentTypeOptions] = SecurityHeaderFields.noSniff
        response.headers[fields: referrerPolicy] = SecurityHeaderFields.referrerPolicyValue
        guard overHTTPS else { return }
        response.headers[.strictTransportSecurity] = "max-age=63072000; includeSubDomains"
        let cookies = response.headers[values: .setCookie]
        guard !cookies.isEmpty else { return }
        response.headers[values: .setCookie] = cookies.map { cookie in
            cookie.lowercased().contains("; secure") ? cookie : cookie + "; Secure"
        }
    }
}

/// The names and fields, made once (a generic type cannot hold a stored `static let`).
private enum SecurityHeaderFields {
    static let contentSecurityPolicyText =
        "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"
    static let forwardedProto = HTTPField.Name("X-Forwarded-Proto")!
    static let referrerPolicy = HTTPField.Name("Referrer-Policy")!
    static let contentSecurityPolicy = [HTTPField(name: .contentSecurityPolicy, value: contentSecurityPolicyText)]
    static let noSniff = [HTTPField(name: .xContentTypeOptions, value: "nosniff")]
    static let referrerPolicyValue = [HTTPField(name: referrerPolicy, value: "strict-origin-when-cross-origin")]
}
