#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Hummingbird
import PostgresNIO

// The stack alone, for `scripts/bench-http --baseline`: stock Hummingbird and stock
// PostgresNIO (`PostgresClient`, prepared statements), the same reads as the users pages, and
// nothing of the app (no middleware, deadlines, badge, layout or escaping). What this serves
// per second on a machine is the most the app could serve there.
//
// Configured by PORT and PGHOST, PGPORT, PGUSER, PGDATABASE (no password, no TLS: loopback only).

/// One user by id, as the app's `UserStatements.ByID`.
struct UserByID: PostgresPreparedStatement {
    static let sql = "SELECT id, name, age, inserted_at, updated_at, lock_version FROM users WHERE id = $1"
    typealias Row = (Int64, String, Int32, Date, Date, Int32)
    let id: Int64

    func makeBindings() -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 1)
        bindings.append(id)
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(Row.self) }
}

/// The newest users, a page and one more, as the app's `UserStatements.Newest`.
struct NewestUsers: PostgresPreparedStatement {
    static let sql = "SELECT id, name, age, inserted_at, updated_at, lock_version FROM users ORDER BY id DESC LIMIT $1"
    typealias Row = (Int64, String, Int32, Date, Date, Int32)
    let limit: Int64

    func makeBindings() -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 1)
        bindings.append(limit)
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(Row.self) }
}

let environment = ProcessInfo.processInfo.environment
var database = PostgresClient.Configuration(
    host: environment["PGHOST"] ?? "127.0.0.1",
    port: Int(environment["PGPORT"] ?? "") ?? 5432,
    username: environment["PGUSER"] ?? "postgres",
    password: nil,
    database: environment["PGDATABASE"],
    tls: .disable
)
database.options.maximumConnections = 10
let client = PostgresClient(configuration: database)

let router = Router()
router.get("/healthz") { _, _ in "ok" }
router.get("/users/{id}") { _, context -> String in
    let id = try context.parameters.require("id", as: Int64.self)
    for try await (id, name, age, _, _, _) in try await client.execute(UserByID(id: id)) {
        return "\(id) \(name) \(age)\n"
    }
    throw HTTPError(.notFound)
}
router.get("/users") { _, _ -> String in
    var page = ""
    for try await (id, name, age, _, _, _) in try await client.execute(NewestUsers(limit: 21)) {
        page += "\(id) \(name) \(age)\n"
    }
    return page
}

let port = Int(environment["PORT"] ?? "") ?? 8080
let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)), services: [client])
try await app.runService()
