#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A person in the users table.
struct User: Sendable, Equatable {
    let id: Int64
    let name: String
    let age: Int
    let insertedAt: Date
    let updatedAt: Date
    /// Starts at 1 and grows by one with every update; edits and deletes name the version
    /// they were based on (optimistic locking), and it is the page's `ETag`.
    let lockVersion: Int
}
