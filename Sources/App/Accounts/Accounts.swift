/// The users data API, like Phoenix's `Accounts` context: the only way the web layer
/// reaches the users table.
///
/// Reads name the database they read from; writes always go to the primary.
protocol Accounts: Sendable {
    static var pageSize: Int { get }

    func listUsers(_ page: PageRequest, readingFrom role: DatabaseRole) async throws -> UserPage
    func user(id: Int64, readingFrom role: DatabaseRole) async throws -> User?
    func createUser(_ changes: UserChanges) async throws -> Written<User>
    /// `nil` when there is no such user.
    func updateUser(id: Int64, with changes: UserChanges) async throws -> Written<User>?
    /// `nil` when there is no such user.
    func deleteUser(id: Int64) async throws -> Written<User>?
}
