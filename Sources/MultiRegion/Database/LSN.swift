import Logging
import PostgresNIO

/// A position in Postgres's write-ahead log, as printed by `pg_current_wal_lsn()`: `16/B374D848`.
public struct LSN: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The position as one 64-bit number.
    public let value: UInt64

    /// A position from its 64-bit number.
    public init(_ value: UInt64) {
        self.value = value
    }

    /// Parses the `X/Y` text form (two hexadecimal numbers of at most 8 digits each).
    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, (1...8).contains(parts[0].count), (1...8).contains(parts[1].count),
            let high = UInt64(parts[0], radix: 16), let low = UInt64(parts[1], radix: 16)
        else { return nil }
        self.value = high << 32 | low
    }

    /// The `X/Y` text form, as Postgres prints it.
    public var description: String {
        String(value >> 32, radix: 16, uppercase: true) + "/" + String(value & 0xFFFF_FFFF, radix: 16, uppercase: true)
    }

    /// Whether `lhs` comes earlier in the log than `rhs`.
    public static func < (lhs: LSN, rhs: LSN) -> Bool { lhs.value < rhs.value }
}

extension PostgresConnection {
    /// The server's current WAL write position (`pg_current_wal_lsn()`): after a commit on a
    /// primary, at or past its commit record. A replica refuses it (it is in recovery).
    func currentWALPosition(logger: Logger) async throws -> LSN? {
        var lsn: LSN?
        for try await text in try await query("SELECT pg_current_wal_lsn()::text", logger: logger).decode(String.self) {
            lsn = LSN(text)
        }
        return lsn
    }
}
