/// The changes one read of the log found after the database's position moved.
public struct ChangeBatch<Change: Sendable>: Sendable {
    /// The database's replay position before the read (its WAL position on a primary): every
    /// change committed up to it is in this batch or an earlier one. Server-sent events use it
    /// as their id, so a client that reconnects says where it was.
    public let position: LSN
    /// The new changes, oldest first.
    public let changes: [Change]

    /// A batch from its parts (the feed makes these; tests too).
    ///
    /// - Parameters:
    ///   - position: The position the read was made at.
    ///   - changes: The changes it found.
    public init(position: LSN, changes: [Change]) {
        self.position = position
        self.changes = changes
    }
}

/// What a ``ChangeSubscription`` yields.
public enum ChangeFeedEvent<Change: Sendable>: Sendable {
    /// New changes, in order.
    case changes(ChangeBatch<Change>)
    /// Nothing changed for a while; the stream is alive (send something, so proxies keep it open).
    case heartbeat
    /// The subscriber missed changes the feed no longer holds (it asked from too far back, the
    /// instance restarted, or it read too slowly): whatever it shows must be read afresh. The
    /// subscription ends after this.
    case reload
}

/// Why ``ChangeFeed/subscribe(after:)`` refused.
public enum ChangeFeedError: Error, Sendable, Equatable {
    /// The feed has as many subscribers as it may have (``ChangeFeed/Configuration/maximumSubscribers``).
    case tooManySubscribers(limit: Int)
    /// The feed has stopped (graceful shutdown).
    case stopped
}
