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
        for character in text.unicodeScalars {
            switch character {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "\"": escaped += "&quot;"
            case "'": escaped += "&#39;"
            default: escaped.unicodeScalars.append(character)
            }
        }
        return escaped
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

        /// Any other value is text and is escaped.
        mutating func appendInterpolation(_ value: some CustomStringConvertible) {
            output += HTML.escape(value.description)
        }
    }
}
