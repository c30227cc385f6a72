public import Crypto
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Signs cookie values with HMAC-SHA256 so that a value the app did not set is ignored.
public struct CookieSigner: Sendable {
    let key: SymmetricKey

    /// A signer with `key`; every instance of the app must share it.
    public init(key: SymmetricKey) {
        self.key = key
    }

    /// `value.signature`, both base64url encoded; safe as a cookie value.
    public func sign(_ value: String, purpose: String) -> String {
        let payload = Data(value.utf8).base64URLEncoded()
        return payload + "." + signature(of: payload, purpose: purpose)
    }

    /// The value, if `cookie` was signed by `sign(_:purpose:)` with the same key and purpose.
    public func verify(_ cookie: String, purpose: String) -> String? {
        let parts = cookie.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count <= 4096 else { return nil }
        let payload = String(parts[0])
        guard let given = Data(base64URLEncoded: String(parts[1])), let data = Data(base64URLEncoded: payload) else {
            return nil
        }
        // The comparison of a MAC is constant-time.
        guard HMAC<SHA256>.isValidAuthenticationCode(given, authenticating: Data("\(purpose)\0\(payload)".utf8), using: key) else {
            return nil
        }
        return String(data: data, encoding: .utf8)
    }

    private func signature(of payload: String, purpose: String) -> String {
        let code = HMAC<SHA256>.authenticationCode(for: Data("\(purpose)\0\(payload)".utf8), using: key)
        return Data(code).base64URLEncoded()
    }
}

extension Data {
    /// Base64url without padding (RFC 4648 §5), as used in cookies.
    func base64URLEncoded() -> String {
        String(base64EncodedString().compactMap { character -> Character? in
            switch character {
            case "+": "-"
            case "/": "_"
            case "=": nil
            default: character
            }
        })
    }

    init?(base64URLEncoded text: String) {
        guard text.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else { return nil }
        var base64 = String(text.map { $0 == "-" ? "+" : $0 == "_" ? "/" : $0 })
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        self.init(base64Encoded: base64)
    }
}
