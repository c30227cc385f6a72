#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Formats timestamps for pages, in UTC.
///
/// Plain arithmetic on the Unix time (Howard Hinnant's days-to-civil algorithm) instead of
/// `Date.FormatStyle` or `Calendar`: on Linux those go through ICU, and under load they kept
/// memory on every call (measured with wrk on the show page).
enum Timestamp {
    private struct Civil {
        let year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int
    }

    private static func civil(_ date: Date) -> Civil {
        let seconds = Int(date.timeIntervalSince1970.rounded(.down))
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = seconds - days * 86_400
        let shifted = days + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return Civil(year: year, month: month, day: day, hour: secondOfDay / 3600, minute: secondOfDay / 60 % 60, second: secondOfDay % 60)
    }

    /// `2026-11-22T02:51:16Z`, for `<time datetime>`.
    static func iso8601(_ date: Date) -> String {
        let c = civil(date)
        return ASCII.text(capacity: 32) { text in
            text.append(c.year, digits: 4)
            text.append("-")
            text.append(c.month, digits: 2)
            text.append("-")
            text.append(c.day, digits: 2)
            text.append("T")
            appendTime(of: c, to: &text)
            text.append("Z")
        }
    }

    /// `22 Nov 2026, 02:51:16 UTC`, for people.
    static func readable(_ date: Date) -> String {
        let c = civil(date)
        return ASCII.text(capacity: 32) { text in
            text.append(c.day, digits: 1)
            text.append(" ")
            text.append(months[c.month - 1])
            text.append(" ")
            text.append(c.year, digits: 4)
            text.append(", ")
            appendTime(of: c, to: &text)
            text.append(" UTC")
        }
    }

    /// `02:51:16`.
    private static func appendTime(of c: Civil, to text: inout ASCII) {
        text.append(c.hour, digits: 2)
        text.append(":")
        text.append(c.minute, digits: 2)
        text.append(":")
        text.append(c.second, digits: 2)
    }

    private static let months: [StaticString] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
}

/// Short ASCII text written byte by byte into one buffer on the stack: a timestamp made of a
/// dozen interpolated numbers and separators costs one allocation, not one per part (pages
/// show four of them, and logs one per line).
private struct ASCII {
    private let buffer: UnsafeMutableBufferPointer<UInt8>
    private var count = 0

    /// The text `write` makes, at most `capacity` bytes (more is cut off).
    static func text(capacity: Int, _ write: (inout ASCII) -> Void) -> String {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: capacity) { buffer in
            var text = ASCII(buffer: buffer)
            write(&text)
            return String(decoding: UnsafeBufferPointer(rebasing: buffer[..<text.count]), as: UTF8.self)
        }
    }

    private init(buffer: UnsafeMutableBufferPointer<UInt8>) {
        self.buffer = buffer
    }

    mutating func append(_ byte: UInt8) {
        guard count < buffer.count else { return }
        buffer[count] = byte
        count += 1
    }

    mutating func append(_ text: StaticString) {
        text.withUTF8Buffer { for byte in $0 { append(byte) } }
    }

    /// A non-negative number with at least `digits` digits (zero-padded).
    mutating func append(_ number: Int, digits: Int) {
        let value = max(number, 0)
        var scale = 1
        var width = 1
        while scale <= value / 10 {
            scale *= 10
            width += 1
        }
        for _ in width..<max(digits, width) { append(UInt8(ascii: "0")) }
        while scale > 0 {
            append(UInt8(ascii: "0") + UInt8(value / scale % 10))
            scale /= 10
        }
    }
}
