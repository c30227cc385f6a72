#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// One row of `user_changes` as this region's database has it, with the user as it is now.
struct UserChange: Sendable, Equatable {
    enum Kind: String, Sendable, Codable {
        case insert, update, delete
    }

    /// The row's position in the log.
    let position: Int64
    let kind: Kind
    let userID: Int64
    /// The user as the database has it at the read; `nil` once deleted (by this change or a
    /// later one in the same read).
    let user: User?
    /// The region whose instance wrote it (its connection's `application_name`).
    let writtenIn: String?
    /// The primary's clock inside the writing transaction, just before its commit.
    let writtenAt: Date
    /// This database's clock when the feed read the change: at most one poll of the replica
    /// after it was replayed.
    let seenAt: Date

    /// How long the change took to reach this region's database and be read there, by the
    /// databases' own clocks (never negative: the clocks of two machines can disagree a little).
    var delay: Duration {
        .milliseconds(max(0, Int64(((seenAt.timeIntervalSince1970 - writtenAt.timeIntervalSince1970) * 1000).rounded())))
    }
}
