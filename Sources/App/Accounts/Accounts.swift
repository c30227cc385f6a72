/// The users data API, like Phoenix's `Accounts` context: the only way the web layer
/// reaches the users table.
///
/// Reads name the database they read from; writes always go to the primary.
protocol Accounts: Sendable {
    static var pageSize: Int { get }

    func listUsers(_ page: PageRequest, readingFrom role: DatabaseRole) async throws -> UserPage
    func user(id: Int64, readingFrom role: DatabaseRole) async throws -> User?
    func createUser(_ changes: UserChanges) async throws -> Written<User>
    /// Updates the user if it is still at one of `versions` (any version when `nil`).
    func updateUser(id: Int64, with changes: UserChanges, ifVersionIn versions: [Int]?) async throws -> VersionedWrite
    /// Deletes the user if it is still at one of `versions` (any version when `nil`).
    func deleteUser(id: Int64, ifVersionIn versions: [Int]?) async throws -> VersionedWrite
}

/// What a write that names the version it was based on found.
enum VersionedWrite: Sendable {
    /// Written; the user as written (as it was, for a delete).
    case written(Written<User>)
    /// There is no such user (any more).
    case notFound
    /// Someone changed the user since that version; nothing was written.
    case conflict(current: User)
}
