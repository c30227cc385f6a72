/// Which database answered a request's reads.
public enum DatabaseRole: String, Sendable, CaseIterable {
    /// The read replica in this instance's region.
    case replica
    /// The writable primary.
    case primary
}
