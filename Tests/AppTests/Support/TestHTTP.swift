import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore

import HummingbirdMultiRegion
import MultiRegion
import MultiRegionTesting

@testable import App

extension TestResponse {
    var text: String { String(buffer: body) }

    /// The value of the `data-db` attribute of the region badge.
    var badgeDatabase: String? { badgeAttribute("data-db") }

    func badgeAttribute(_ name: String) -> String? {
        guard let badge = text.range(of: "id=\"region-badge\"") else { return nil }
        let rest = text[badge.upperBound...]
        guard let end = rest.firstIndex(of: ">"), let attribute = rest[..<end].range(of: " \(name)=\"") else { return nil }
        let value = rest[attribute.upperBound...]
        return value.firstIndex(of: "\"").map { String(value[..<$0]) }
    }

    /// Cookies set by this response, by name (an empty value means "removed").
    var setCookies: [String: String] {
        var cookies: [String: String] = [:]
        for header in headers[values: .setCookie] {
            let pair = header.split(separator: ";")[0].split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            cookies[String(pair[0])] = pair.count == 2 ? String(pair[1]) : ""
        }
        return cookies
    }

    var location: String? { headers[.location] }
}

/// A tiny cookie jar, so a test can act like a browser across requests.
struct CookieJar {
    var cookies: [String: String] = [:]

    mutating func update(from response: TestResponse) {
        for (name, value) in response.setCookies {
            cookies[name] = value.isEmpty ? nil : value
        }
    }

    var headers: HTTPFields {
        var fields = HTTPFields()
        if !cookies.isEmpty {
            fields[.cookie] = cookies.map { "\($0.key)=\($0.value)" }.joined(separator: "; ")
        }
        return fields
    }
}

/// A URL-encoded form body with its content type.
func formBody(_ fields: [(String, String)]) -> ByteBuffer {
    var allowed = CharacterSet.alphanumerics
    allowed.insert(charactersIn: "-._~")
    let body = fields.map { key, value in
        "\(key.addingPercentEncoding(withAllowedCharacters: allowed)!)=\(value.addingPercentEncoding(withAllowedCharacters: allowed)!)"
    }.joined(separator: "&")
    return ByteBuffer(string: body)
}

func formHeaders(_ extra: HTTPFields = [:]) -> HTTPFields {
    var fields = extra
    fields[.contentType] = "application/x-www-form-urlencoded"
    return fields
}
