import HTTPTypes
import Hummingbird

/// The headers every response of a template should carry, error pages and the request
/// deadline's answer included (`AppResponder` adds them to every response):
///
/// - a strict `Content-Security-Policy`: the pages use no inline script or style;
/// - `X-Content-Type-Options: nosniff` and `Referrer-Policy: strict-origin-when-cross-origin`;
/// - when the request came over HTTPS (`X-Forwarded-Proto: https`, as Fly's proxy sets it),
///   `Strict-Transport-Security`, and `Secure` on every cookie the response sets.
enum SecurityHeaders {
    static let contentSecurityPolicyText =
        "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"
    static let forwardedProto = HTTPField.Name("X-Forwarded-Proto")!
    static let referrerPolicy = HTTPField.Name("Referrer-Policy")!
    // Whole fields made once: setting a value by its text checks every character of it.
    private static let contentSecurityPolicy = [HTTPField(name: .contentSecurityPolicy, value: contentSecurityPolicyText)]
    private static let noSniff = [HTTPField(name: .xContentTypeOptions, value: "nosniff")]
    private static let referrerPolicyValue = [HTTPField(name: referrerPolicy, value: "strict-origin-when-cross-origin")]

    /// Whether a request's headers say the client reached the proxy in front of the app over HTTPS.
    static func isHTTPS(_ requestHeaders: HTTPFields) -> Bool {
        requestHeaders[forwardedProto]?.split(separator: ",").first?.trimmed.lowercased() == "https"
    }

    /// Adds the headers to a response's `headers`.
    static func secure(_ headers: inout HTTPFields, overHTTPS: Bool) {
        headers[fields: .contentSecurityPolicy] = contentSecurityPolicy
        headers[fields: .xContentTypeOptions] = noSniff
        headers[fields: referrerPolicy] = referrerPolicyValue
        guard overHTTPS else { return }
        headers[.strictTransportSecurity] = "max-age=63072000; includeSubDomains"
        let cookies = headers[values: .setCookie]
        guard !cookies.isEmpty else { return }
        headers[values: .setCookie] = cookies.map { cookie in
            cookie.lowercased().contains("; secure") ? cookie : cookie + "; Secure"
        }
    }
}
