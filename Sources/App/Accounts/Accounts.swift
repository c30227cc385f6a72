import MultiRegion

/// The users data API, like Phoenix's `Accounts` context: the only way the web layer
/// reaches the users table.
///
/// Every call runs on the request's `DatabaseSession`: reads where the request's routing
/// chose (falling back to the primary), writes on the primary, with the WAL position recorded
/// for read-your-writes. No function here chooses a server.
protocol Accounts: Sendable {
    static var pageSize: Int { get }

    func listUsers(_ page: PageRequest, on database: DatabaseSession) async throws -> UserPage
    func user(id: Int64, on database: DatabaseSession) async throws -> User?
    func createUser(_ changes: UserChanges, on database: DatabaseSession) async throws -> User
    /// Updates the user if it is still at one of `versions` (any version when `nil`).
    func updateUser(id: Int64, with changes: UserChanges, ifVersionIn versions: [Int]?, on database: DatabaseSession) async throws -> VersionedWrite
    /// Deletes the user if it is still at one of `versions` (any version when `nil`).
    func deleteUser(id: Int64, ifVersionIn versions: [Int]?, on database: DatabaseSession) async throws -> VersionedWrite
}

/// What a write that names the version it was based on found.
enum VersionedWrite: Sendable {
    /// Written; the user as written (as it was, for a delete).
    case written(User)
    /// There is no such user (any more).
    case notFound
    /// Someone changed the user since that version; nothing was written.
    case conflict(current: User)
}
