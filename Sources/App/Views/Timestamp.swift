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
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

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

    private static func two(_ value: Int) -> String {
        value < 10 ? "0\(value)" : "\(value)"
    }

    /// `2026-11-22T02:51:16Z`, for `<time datetime>`.
    static func iso8601(_ date: Date) -> String {
        let c = civil(date)
        return "\(c.year)-\(two(c.month))-\(two(c.day))T\(two(c.hour)):\(two(c.minute)):\(two(c.second))Z"
    }

    /// `22 Nov 2026, 02:51:16 UTC`, for people.
    static func readable(_ date: Date) -> String {
        let c = civil(date)
        return "\(c.day) \(months[c.month - 1]) \(c.year), \(two(c.hour)):\(two(c.minute)):\(two(c.second)) UTC"
    }
}
