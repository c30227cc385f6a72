import ServiceLifecycle
import PostgresNIO

/// The primary and the regional replica, as pooled clients.
///
/// When no replica is configured, reads use the primary and `replica` is `nil`.
struct Databases: Sendable {
    let primary: PostgresClient
    let replica: PostgresClient?

    /// The client for reads served by `role`.
    func client(for role: DatabaseRole) -> PostgresClient {
        switch role {
        case .primary: primary
        case .replica: replica ?? primary
        }
    }

    /// The server that answers reads meant for `role`: the primary when there is no replica.
    func server(for role: DatabaseRole) -> DatabaseRole {
        replica == nil ? .primary : role
    }

    /// The clients as services, so they start and stop with the application.
    var services: [any Service] {
        [primary] + (replica.map { [$0] } ?? [])
    }
}
