/// A fragment of HTML that is safe to send.
///
/// Literal text written in Swift source is trusted; every interpolated value that is not
/// itself `HTML` is escaped, so user input can never become markup by accident:
///
/// ```swift
/// let row: HTML = "<td>\(user.name)</td>"   // name is escaped
/// ```
struct HTML: Sendable, Equatable, ExpressibleByStringInterpolation {
    /// The markup, ready to write to a response.
    let rendered: String

    init(stringLiteral literal: String) {
        self.rendered = literal
    }

    init(stringInterpolation: StringInterpolation) {
        self.rendered = stringInterpolation.output
    }

    private init(trusted rendered: String) {
        self.rendered = rendered
    }

    /// Nothing at all; handy for optional parts of a page.
    static let empty: HTML = ""

    /// Joins fragments in order.
    static func joined(_ fragments: some Sequence<HTML>, separator: HTML = .empty) -> HTML {
        HTML(trusted: fragments.map(\.rendered).joined(separator: separator.rendered))
    }

    /// Escapes text for use in element content and in quoted attribute values.
    static func escape(_ text: some StringProtocol) -> String {
        var escaped = ""
        escaped.reserveCapacity(text.utf8.count)
        appendEscaped(text, to: &escaped)
        return escaped
    }

    /// Appends `text` escaped: runs without `&`, `<`, `>`, `"` or `'` are copied whole (these
    /// five are ASCII, so their UTF-8 positions are character boundaries).
    static func appendEscaped(_ text: some StringProtocol, to output: inout String) {
        let bytes = text.utf8
        var runStart = bytes.startIndex
        var index = runStart
        while index != bytes.endIndex {
            let replacement: String? =
                switch bytes[index] {
                case UInt8(ascii: "&"): "&amp;"
                case UInt8(ascii: "<"): "&lt;"
                case UInt8(ascii: ">"): "&gt;"
                case UInt8(ascii: "\""): "&quot;"
                case UInt8(ascii: "'"): "&#39;"
                default: nil
                }
            let next = bytes.index(after: index)
            if let replacement {
                output += text[runStart..<index]
                output += replacement
                runStart = next
            }
            index = next
        }
        output += text[runStart..<bytes.endIndex]
    }

    struct StringInterpolation: StringInterpolationProtocol {
        fileprivate var output: String

        init(literalCapacity: Int, interpolationCount: Int) {
            self.output = ""
            self.output.reserveCapacity(literalCapacity + interpolationCount * 16)
        }

        /// Literal source text is trusted markup.
        mutating func appendLiteral(_ literal: String) {
            output += literal
        }

        /// Nested HTML is already safe.
        mutating func appendInterpolation(_ html: HTML) {
            output += html.rendered
        }

        /// Optional HTML renders as nothing when absent.
        mutating func appendInterpolation(_ html: HTML?) {
            output += html?.rendered ?? ""
        }

        /// A list of fragments, one after another.
        mutating func appendInterpolation(_ fragments: [HTML]) {
            for fragment in fragments { output += fragment.rendered }
        }

        /// Numbers need no escaping.
        mutating func appendInterpolation(_ value: Int) {
            output += String(value)
        }

        mutating func appendInterpolation(_ value: Int64) {
            output += String(value)
        }

        /// Any other value is text and is escaped.
        mutating func appendInterpolation(_ value: some CustomStringConvertible) {
            HTML.appendEscaped(value.description, to: &output)
        }
    }
}
