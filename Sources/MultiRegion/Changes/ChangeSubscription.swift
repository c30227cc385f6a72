import Synchronization

/// One subscriber's events from a ``ChangeFeed``, in order: the changes it asked to catch up
/// on, then new ones as the database replays them, with heartbeats between.
///
/// A subscriber that falls more than ``ChangeFeed/Configuration/bufferedBatches`` batches
/// behind is not buffered without bound: it gets ``ChangeFeedEvent/reload`` and its
/// subscription ends. Ending the iteration (or ``cancel()``) leaves the feed.
public final class ChangeSubscription<Change: Sendable>: AsyncSequence, Sendable {
    /// An event of the feed.
    public typealias Element = ChangeFeedEvent<Change>

    private let stream: AsyncStream<Element>
    private let continuation: AsyncStream<Element>.Continuation
    private let overflowed = Atomic<Bool>(false)

    init(bufferedBatches: Int) {
        (stream, continuation) = AsyncStream.makeStream(of: Element.self, bufferingPolicy: .bufferingOldest(bufferedBatches))
    }

    /// Ends the subscription: the iteration finishes after what it has buffered.
    public func cancel() {
        continuation.finish()
    }

    /// Hands an event over; `false` when the buffer is full and the event was dropped (the
    /// caller then ends the subscription with ``reload()``, outside any lock of its own: the
    /// end runs the termination handler).
    @discardableResult
    func send(_ event: Element) -> Bool {
        if case .dropped = continuation.yield(event) { return false }
        return true
    }

    /// Ends the subscription with a reload event.
    func reload() {
        overflowed.store(true, ordering: .relaxed)
        continuation.finish()
    }

    /// Called once when the subscription ends, however it ends.
    func onTermination(_ action: @escaping @Sendable () -> Void) {
        continuation.onTermination = { _ in action() }
    }

    /// The iterator over the events.
    public func makeAsyncIterator() -> Iterator {
        Iterator(base: stream.makeAsyncIterator(), subscription: self)
    }

    /// Iterates the events; after the last one, a reload if the subscription was cut short.
    public struct Iterator: AsyncIteratorProtocol {
        var base: AsyncStream<Element>.Iterator
        let subscription: ChangeSubscription
        var ended = false

        /// The next event, or `nil` once the subscription has ended.
        public mutating func next() async -> Element? {
            guard !ended else { return nil }
            if let event = await base.next() { return event }
            ended = true
            return subscription.overflowed.load(ordering: .relaxed) ? .reload : nil
        }

        /// The next event, or `nil` once the subscription has ended (never throws).
        public mutating func next(isolation actor: isolated (any Actor)?) async -> Element? {
            guard !ended else { return nil }
            if let event = await base.next(isolation: actor) { return event }
            ended = true
            return subscription.overflowed.load(ordering: .relaxed) ? .reload : nil
        }
    }
}
