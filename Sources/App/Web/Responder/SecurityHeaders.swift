import HTTPTypes
import Hummingbird

/// The headers every response of a template should carry, error pages and the request
/// deadline's answer included (`AppResponder` adds them to every response):
///
/// - a strict `Content-Security-Policy`: the pages use no inline script or style;
/// - `X-Content-Type-Options: nosniff` and `Referrer-Policy: strict-origin-when-cross-origin`;
/// - when the request came over HTTPS (`X-Forwarded-Proto: https`, as Fly's proxy sets it),
///   `Strict-Transport-Security`, and `Secure` on every cookie the response sets.
///
/// They are this type's alone: no route sets them, so they are appended, not looked up and
/// replaced (each look-up compares the name with every field of the response).
enum SecurityHeaders {
    static let contentSecurityPolicyText =
        "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"
    static let forwardedProto = HTTPField.Name("X-Forwarded-Proto")!
    static let referrerPolicy = HTTPField.Name("Referrer-Policy")!
    // Whole fields made once: setting a value by its text checks every character of it.
    static let fields = [
        HTTPField(name: .contentSecurityPolicy, value: contentSecurityPolicyText),
        HTTPField(name: .xContentTypeOptions, value: "nosniff"),
        HTTPField(name: referrerPolicy, value: "strict-origin-when-cross-origin"),
    ]
    private static let strictTransportSecurity = HTTPField(name: .strictTransportSecurity, value: "max-age=63072000; includeSubDomains")

    /// Whether a request's headers say the client reached the proxy in front of the app over HTTPS.
    static func isHTTPS(_ requestHeaders: HTTPFields) -> Bool {
        requestHeaders[forwardedProto]?.split(separator: ",").first?.trimmed.lowercased() == "https"
    }

    /// Adds the headers to a response's `headers`: `fields`, or a caller's copy of them with
    /// fields of its own that no route sets either.
    static func secure(_ headers: inout HTTPFields, overHTTPS: Bool, appending fields: [HTTPField] = fields) {
        headers.reserveCapacity(headers.count + fields.count + 2)
        headers.append(contentsOf: fields)
        guard overHTTPS else { return }
        headers.append(strictTransportSecurity)
        let cookies = headers[values: .setCookie]
        guard !cookies.isEmpty else { return }
        headers[values: .setCookie] = cookies.map { cookie in
            cookie.lowercased().contains("; secure") ? cookie : cookie + "; Secure"
        }
    }
}
