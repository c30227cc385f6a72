import Foundation

/// A person in the users table.
struct User: Sendable, Equatable {
    let id: Int64
    let name: String
    let age: Int
    let insertedAt: Date
    let updatedAt: Date
}
