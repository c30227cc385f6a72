#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Logging
import MultiRegion
import PostgresNIO

/// `user_changes` (Migrations/0003), the change log the live pages follow: filled by a trigger
/// on `users` in the writing transaction, read by the feed on this region's database.
struct UserChangeLog: ChangeLog {
    func newestPosition(on connection: PostgresConnection, logger: Logger) async throws -> Int64 {
        var newest: Int64 = 0
        for try await position in try await connection.query("SELECT coalesce(max(position), 0) FROM user_changes", logger: logger).decode(Int64.self) {
            newest = position
        }
        return newest
    }

    func changes(after newest: Int64, orAmong missing: [Int64], limit: Int, on connection: PostgresConnection, logger: Logger) async throws -> [UserChange] {
        let rows = try await connection.query(
            """
            SELECT c.position, c.user_id, c.kind, c.region, c.written_at, clock_timestamp(),
                   u.name, u.age, u.inserted_at, u.updated_at, u.lock_version
            FROM user_changes c LEFT JOIN users u ON u.id = c.user_id
            WHERE c.position > \(newest) OR c.position = ANY(\(missing))
            ORDER BY c.position
            LIMIT \(Int64(limit))
            """,
            logger: logger
        )
        var changes: [UserChange] = []
        for try await row in rows.decode((Int64, Int64, String, String?, Date, Date, String?, Int32?, Date?, Date?, Int32?).self) {
            let (position, userID, kind, region, writtenAt, seenAt, name, age, insertedAt, updatedAt, lockVersion) = row
            var user: User?
            if let name, let age, let insertedAt, let updatedAt, let lockVersion {
                user = User(id: userID, name: name, age: Int(age), insertedAt: insertedAt, updatedAt: updatedAt, lockVersion: Int(lockVersion))
            }
            changes.append(
                UserChange(
                    position: position, kind: UserChange.Kind(rawValue: kind) ?? .update, userID: userID, user: user,
                    writtenIn: region, writtenAt: writtenAt, seenAt: seenAt
                )
            )
        }
        return changes
    }

    func position(of change: UserChange) -> Int64 { change.position }
}
