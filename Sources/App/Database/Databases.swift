import ServiceLifecycle

/// The primary and the regional replica, as connection pools.
///
/// When no replica is configured, reads use the primary and `replica` is `nil`.
struct Databases: Sendable {
    let primary: DatabasePool
    let replica: DatabasePool?

    /// The pool for reads served by `role`.
    func pool(for role: DatabaseRole) -> DatabasePool {
        switch role {
        case .primary: primary
        case .replica: replica ?? primary
        }
    }

    /// The server that answers reads meant for `role`: the primary when there is no replica.
    func server(for role: DatabaseRole) -> DatabaseRole {
        replica == nil ? .primary : role
    }

    /// The pools as services, so they start and stop with the application.
    var services: [any Service] {
        [primary] + (replica.map { [$0] } ?? [])
    }
}
