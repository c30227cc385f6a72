import Foundation
import Testing

import HummingbirdMultiRegion
import MultiRegion
import MultiRegionTesting

@testable import App

@Suite("HTML escaping")
struct HTMLTests {
    @Test("Interpolated text is escaped")
    func escapesInterpolatedText() {
        let name = "<script>alert('x') & \"y\"</script>"
        let html: HTML = "<p>\(name)</p>"
        #expect(html.rendered == "<p>&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&lt;/script&gt;</p>")
    }

    @Test("Nested HTML is kept as markup, and its own values stay escaped")
    func nestedHTMLIsNotEscapedTwice() {
        let inner: HTML = "<b>\("a<b")</b>"
        let outer: HTML = "<p>\(inner)</p>"
        #expect(outer.rendered == "<p><b>a&lt;b</b></p>")
    }

    @Test("Numbers, optionals and lists render as expected")
    func otherValues() {
        let missing: HTML? = nil
        let items: [HTML] = ["<li>\(1)</li>", "<li>\("&")</li>"]
        let html: HTML = "\(42)\(missing)<ul>\(items)</ul>"
        #expect(html.rendered == "42<ul><li>1</li><li>&amp;</li></ul>")
    }

    @Test("Escaping keeps every other character, multibyte ones included, in place")
    func multibyteText() {
        let name = "Zoë <Ørsted> & 山田 '太郎' 👩🏽‍💻\""
        let html: HTML = "\(name)|\(Int64(-7))|\(name.dropFirst(4))"
        #expect(html.rendered == "Zoë &lt;Ørsted&gt; &amp; 山田 &#39;太郎&#39; 👩🏽‍💻&quot;|-7|&lt;Ørsted&gt; &amp; 山田 &#39;太郎&#39; 👩🏽‍💻&quot;")
        #expect(HTML.escape("") == "" && HTML.escape("plain") == "plain" && HTML.escape("&") == "&amp;")
    }

    @Test("Joined fragments keep their order, with the separator only between them")
    func joinedFragments() {
        let parts: [HTML] = ["<a>\("x&y")</a>", "<b>2</b>", "<i>3</i>"]
        #expect(HTML.joined(parts, separator: " | ").rendered == "<a>x&amp;y</a> | <b>2</b> | <i>3</i>")
        #expect(HTML.joined([HTML](), separator: " | ").rendered == "")
        #expect(HTML.joined(parts.prefix(1)).rendered == "<a>x&amp;y</a>")
    }

    @Test("The bytes are the markup's UTF-8, as the response sends them")
    func bytesAreUTF8() {
        let html: HTML = "<p>\("Zoë & 山田")</p>"
        #expect(html.utf8 == Array("<p>Zoë &amp; 山田</p>".utf8))
    }

    @Test("Attribute values cannot break out of their quotes")
    func attributeValues() {
        let value = "\" onmouseover=\"alert(1)"
        let html: HTML = "<input value=\"\(value)\">"
        #expect(!html.rendered.contains("\" onmouseover"))
    }
}

@Suite("Timestamps on pages")
struct TimestampTests {
    @Test("Timestamps are shown in UTC, for machines and for people")
    func formats() {
        let date = Date(timeIntervalSince1970: 1_795_315_876)  // 2026-11-22 02:51:16 UTC
        #expect(Timestamp.iso8601(date) == "2026-11-22T02:51:16Z")
        #expect(Timestamp.readable(date) == "22 Nov 2026, 02:51:16 UTC")
        #expect(Timestamp.iso8601(Date(timeIntervalSince1970: 951_782_400)) == "2000-02-29T00:00:00Z")
        #expect(Timestamp.iso8601(Date(timeIntervalSince1970: -1)) == "1969-12-31T23:59:59Z")
        let early = Date(timeIntervalSince1970: 1_767_582_245)  // 2026-01-05 03:04:05 UTC
        #expect(Timestamp.iso8601(early) == "2026-01-05T03:04:05Z")
        #expect(Timestamp.readable(early) == "5 Jan 2026, 03:04:05 UTC")
    }
}

@Suite("The region badge")
struct RegionBadgeTests {
    @Test("The region picker marks where the person browses from, also on a page replayed to the primary region")
    func pickerFollowsTheEdgeRegion() {
        let replayed = RegionBadge(
            facts: RegionFacts(regions: RegionInfo(region: "nrt", primaryRegion: "nrt"), database: .primary, replayedFrom: "ord", edgeRegion: "ord"),
            picker: .init(regions: ["nrt", "ord"], returnPath: "/users/1")
        ).html.rendered
        #expect(replayed.contains("<strong aria-current=\"true\">ord</strong>"))
        #expect(replayed.contains("<a href=\"/_edge/region?to=nrt&amp;back=%2Fusers%2F1\">nrt</a>") || replayed.contains(">nrt</a>"))

        let direct = RegionBadge(
            facts: RegionFacts(regions: RegionInfo(region: "ams", primaryRegion: "nrt"), database: .replica),
            picker: .init(regions: ["nrt", "ams"], returnPath: "/users")
        ).html.rendered
        #expect(direct.contains("<strong aria-current=\"true\">ams</strong>"))
    }
}
