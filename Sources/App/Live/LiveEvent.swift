#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import MultiRegion

/// The JSON of the live pages' events, as `Public/live.js` reads them.
enum LiveEvent {
    /// The first event of a stream: where it runs and which database feeds it.
    struct Ready: Encodable {
        let region: String
        /// `replica`, or `primary` where this region reads the primary.
        let source: String
        let position: String?
    }

    /// A batch of changes: `changes` event, with the batch's position as its id.
    struct Changes: Encodable {
        let region: String
        let source: String
        let changes: [Change]
    }

    struct Change: Encodable {
        let position: Int64
        let kind: UserChange.Kind
        let id: Int64
        let user: UserJSON?
        let writtenIn: String?
        /// Milliseconds since 1970, by the primary's clock.
        let writtenAt: Double
        /// Milliseconds since 1970, by this region's database's clock.
        let seenAt: Double
        let delayMs: Int64

        init(_ change: UserChange) {
            position = change.position
            kind = change.kind
            id = change.userID
            user = change.user.map(UserJSON.init)
            writtenIn = change.writtenIn
            writtenAt = (change.writtenAt.timeIntervalSince1970 * 1000).rounded()
            seenAt = (change.seenAt.timeIntervalSince1970 * 1000).rounded()
            delayMs = change.delay.nanoseconds / 1_000_000
        }
    }

    struct UserJSON: Encodable {
        let id: Int64
        let name: String
        let age: Int
        let lockVersion: Int
        let insertedAt: String
        let updatedAt: String
        let updatedAtText: String

        init(_ user: User) {
            id = user.id
            name = user.name
            age = user.age
            lockVersion = user.lockVersion
            insertedAt = Timestamp.iso8601(user.insertedAt)
            updatedAt = Timestamp.iso8601(user.updatedAt)
            updatedAtText = Timestamp.readable(user.updatedAt)
        }
    }

    static func json(_ value: some Encodable) -> String {
        // Encoding these types cannot fail (strings and numbers only).
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return (try? String(decoding: encoder.encode(value), as: UTF8.self)) ?? "{}"
    }
}
