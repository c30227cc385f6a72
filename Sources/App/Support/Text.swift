/// Small text helpers that full Foundation would otherwise provide: the app imports only
/// `FoundationEssentials`, which leaves out `CharacterSet`, `String(format:)` and
/// `addingPercentEncoding` (full Foundation brings ICU into the binary; see the README on why
/// the dependencies still do).
extension StringProtocol {
    /// The text without leading and trailing white space (newlines included).
    var trimmed: String {
        guard let first = firstIndex(where: { !$0.isWhitespace }), let last = lastIndex(where: { !$0.isWhitespace }) else { return "" }
        return String(self[first...last])
    }

    /// Percent-encodes everything but RFC 3986's unreserved characters and `/`, for a value in
    /// a query string (so `&`, `=`, `+`, `#` and `?` in it stay data).
    var percentEncodedForQuery: String {
        var encoded = ""
        encoded.reserveCapacity(utf8.count)
        for byte in utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: "/"):
                encoded.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                encoded += "%" + Text.hex(byte).uppercased()
            }
        }
        return encoded
    }
}

enum Text {
    /// `value` with exactly `places` decimals, rounded half away from zero: `fixed(2.345, places: 2)` is `"2.35"`.
    static func fixed(_ value: Double, places: Int) -> String {
        guard value.isFinite else { return "\(value)" }
        var scale = 1.0
        for _ in 0..<places { scale *= 10 }
        let scaled = (abs(value) * scale).rounded()
        guard scaled < 9e18 else { return "\(value)" }
        let units = Int(scaled)
        let sign = value < 0 && units != 0 ? "-" : ""
        let whole = units / Int(scale)
        guard places > 0 else { return sign + String(whole) }
        let fraction = String(units % Int(scale))
        return sign + String(whole) + "." + String(repeating: "0", count: places - fraction.count) + fraction
    }

    /// Two lowercase hexadecimal digits.
    static func hex(_ byte: UInt8) -> String {
        byte < 16 ? "0" + String(byte, radix: 16) : String(byte, radix: 16)
    }
}
