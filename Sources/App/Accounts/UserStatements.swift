#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import PostgresNIO

/// A prepared statement whose rows are users (`UserStatements.columns`).
protocol UserStatement: PostgresPreparedStatement where Row == User {}

extension UserStatement {
    func decodeRow(_ row: PostgresRow) throws -> User { try UserStatements.user(from: row) }
}

/// The reads of the users pages as prepared statements: each connection parses and plans them
/// once, then every request sends only the statement's name and its values (`pgbench` here:
/// twice the rate of the same `SELECT` sent as an unnamed statement).
enum UserStatements {
    static let columns = "id, name, age, inserted_at, updated_at, lock_version"

    /// One user by id.
    struct ByID: UserStatement {
        static let name = "users_by_id"
        static let sql = "SELECT \(columns) FROM users WHERE id = $1"
        static let bindingDataTypes: [PostgresDataType] = [.int8]
        let id: Int64

        func makeBindings() -> PostgresBindings { UserStatements.bindings(id) }
    }

    /// The newest users, one more than a page (to know whether there are more).
    struct Newest: UserStatement {
        static let name = "users_newest"
        static let sql = "SELECT \(columns) FROM users ORDER BY id DESC LIMIT $1"
        static let bindingDataTypes: [PostgresDataType] = [.int8]
        let limit: Int64

        func makeBindings() -> PostgresBindings { UserStatements.bindings(limit) }
    }

    /// The users older than an id, newest first.
    struct OlderThan: UserStatement {
        static let name = "users_older_than"
        static let sql = "SELECT \(columns) FROM users WHERE id < $1 ORDER BY id DESC LIMIT $2"
        static let bindingDataTypes: [PostgresDataType] = [.int8, .int8]
        let id: Int64
        let limit: Int64

        func makeBindings() -> PostgresBindings { UserStatements.bindings(id, limit) }
    }

    /// The users newer than an id, oldest first.
    struct NewerThan: UserStatement {
        static let name = "users_newer_than"
        static let sql = "SELECT \(columns) FROM users WHERE id > $1 ORDER BY id ASC LIMIT $2"
        static let bindingDataTypes: [PostgresDataType] = [.int8, .int8]
        let id: Int64
        let limit: Int64

        func makeBindings() -> PostgresBindings { UserStatements.bindings(id, limit) }
    }

    private static func bindings(_ values: Int64...) -> PostgresBindings {
        var bindings = PostgresBindings(capacity: values.count)
        for value in values { bindings.append(value) }
        return bindings
    }

    /// A user from a row of `columns`, cell by cell (no tuple type to build at run time).
    static func user(from row: PostgresRow) throws -> User {
        var cells = row.makeIterator()
        func next() throws -> PostgresCell {
            guard let cell = cells.next() else { throw PostgresDecodingError.Code.missingData }
            return cell
        }
        return User(
            id: try next().decode(Int64.self),
            name: try next().decode(String.self),
            age: Int(try next().decode(Int32.self)),
            insertedAt: try next().decode(Date.self),
            updatedAt: try next().decode(Date.self),
            lockVersion: Int(try next().decode(Int32.self))
        )
    }
}
