import Foundation
import Testing

import HummingbirdMultiRegion
import MultiRegion
import MultiRegionTesting

@testable import App

@Suite("JSON log lines")
struct JSONLogHandlerTests {
    @Test("Strings are quoted so that any text, control characters and quotes included, stays one valid JSON value")
    func quoting() throws {
        for text in ["plain", "quote \" and backslash \\", "line\nbreak\r\ttab", "nul \u{0} bell \u{7}", "emoji 🎉 and é", "\u{2028}"] {
            let quoted = JSONLogHandler.quoted(text)
            #expect(!quoted.contains("\n") && !quoted.contains("\u{0}"))
            let decoded = try JSONSerialization.jsonObject(with: Data("[\(quoted)]".utf8)) as? [String]
            #expect(decoded == [text])
        }
    }
}
