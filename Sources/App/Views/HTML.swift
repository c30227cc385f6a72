/// A fragment of HTML that is safe to send.
///
/// Literal text written in Swift source is trusted; every interpolated value that is not
/// itself `HTML` is escaped, so user input can never become markup by accident:
///
/// ```swift
/// let row: HTML = "<td>\(user.name)</td>"   // name is escaped
/// ```
struct HTML: Sendable, Equatable, ExpressibleByStringInterpolation {
    /// The markup as UTF-8, ready to write to a response.
    ///
    /// Bytes rather than a `String`: a page is assembled from hundreds of small pieces, and
    /// appending bytes is a plain copy, where a `String` also keeps its count and flags up to
    /// date on every append (the users list page with its layout: 20 to 25 µs as a `String`,
    /// 14 to 17 µs as bytes), and the response body is made from the bytes in one copy.
    let utf8: [UInt8]

    /// The markup as text (for tests and logs; responses use `utf8`).
    var rendered: String { String(decoding: utf8, as: UTF8.self) }

    init(stringLiteral literal: String) {
        self.utf8 = Array(literal.utf8)
    }

    init(stringInterpolation: StringInterpolation) {
        self.utf8 = stringInterpolation.output
    }

    private init(trusted utf8: [UInt8]) {
        self.utf8 = utf8
    }

    /// Nothing at all; handy for optional parts of a page.
    static let empty: HTML = ""

    /// Joins fragments in order.
    static func joined(_ fragments: some Sequence<HTML>, separator: HTML = .empty) -> HTML {
        var output: [UInt8] = []
        for (index, fragment) in fragments.enumerated() {
            if index > 0 { output += separator.utf8 }
            output += fragment.utf8
        }
        return HTML(trusted: output)
    }

    /// Escapes text for use in element content and in quoted attribute values.
    static func escape(_ text: some StringProtocol) -> String {
        var escaped: [UInt8] = []
        escaped.reserveCapacity(text.utf8.count)
        appendEscaped(text, to: &escaped)
        return String(decoding: escaped, as: UTF8.self)
    }

    /// Appends `text` escaped: runs without `&`, `<`, `>`, `"` or `'` are copied whole (these
    /// five are ASCII, so their UTF-8 positions are character boundaries).
    static func appendEscaped(_ text: some StringProtocol, to output: inout [UInt8]) {
        var text = String(text)
        text.withUTF8 { bytes in
            var runStart = 0
            for index in bytes.indices {
                let replacement: StaticString
                switch bytes[index] {
                case UInt8(ascii: "&"): replacement = "&amp;"
                case UInt8(ascii: "<"): replacement = "&lt;"
                case UInt8(ascii: ">"): replacement = "&gt;"
                case UInt8(ascii: "\""): replacement = "&quot;"
                case UInt8(ascii: "'"): replacement = "&#39;"
                default: continue
                }
                output += UnsafeBufferPointer(rebasing: bytes[runStart..<index])
                output += UnsafeBufferPointer(start: replacement.utf8Start, count: replacement.utf8CodeUnitCount)
                runStart = index + 1
            }
            output += UnsafeBufferPointer(rebasing: bytes[runStart...])
        }
    }

    struct StringInterpolation: StringInterpolationProtocol {
        fileprivate var output: [UInt8]

        init(literalCapacity: Int, interpolationCount: Int) {
            self.output = []
            self.output.reserveCapacity(literalCapacity + interpolationCount * 16)
        }

        /// Literal source text is trusted markup.
        mutating func appendLiteral(_ literal: String) {
            output += literal.utf8
        }

        /// Nested HTML is already safe.
        mutating func appendInterpolation(_ html: HTML) {
            output += html.utf8
        }

        /// Optional HTML renders as nothing when absent.
        mutating func appendInterpolation(_ html: HTML?) {
            if let html { output += html.utf8 }
        }

        /// A list of fragments, one after another.
        mutating func appendInterpolation(_ fragments: [HTML]) {
            for fragment in fragments { output += fragment.utf8 }
        }

        /// Numbers need no escaping.
        mutating func appendInterpolation(_ value: Int) {
            output += String(value).utf8
        }

        mutating func appendInterpolation(_ value: Int64) {
            output += String(value).utf8
        }

        /// Any other value is text and is escaped.
        mutating func appendInterpolation(_ value: some CustomStringConvertible) {
            HTML.appendEscaped(value.description, to: &output)
        }
    }
}
