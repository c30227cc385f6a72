/// Where a change feed is in its change log, when positions come from a sequence.
///
/// A sequence hands out positions when rows are written, but rows appear when their
/// transactions commit, and those can commit out of order: position 11 can be visible before
/// 10 is. Reading "after the newest position seen" would skip 10 for good, so the cursor keeps
/// each missing position open for `gapTimeout` (longer than any writing transaction runs) and
/// asks for it again with every read. A gap that outlives that was a rolled-back transaction.
struct ChangeCursor: Sendable {
    /// The newest position delivered (or the log's newest when the feed started).
    private(set) var newest: Int64
    /// Positions below `newest` not seen yet, each with the moment it was first missed.
    private(set) var gaps: [Int64: ContinuousClock.Instant] = [:]
    let gapTimeout: Duration
    /// The most gaps kept; past it the oldest positions are given up first.
    let maximumGaps: Int

    init(startingAfter newest: Int64, gapTimeout: Duration = .seconds(10), maximumGaps: Int = 1000) {
        self.newest = newest
        self.gapTimeout = gapTimeout
        self.maximumGaps = maximumGaps
    }

    /// The open gaps, lowest first: the positions to ask for again besides those after `newest`.
    var missing: [Int64] { gaps.keys.sorted() }

    /// Takes the positions a read returned and says which of them are new (not delivered
    /// before); drops gaps that have been open longer than `gapTimeout`.
    mutating func accept(_ positions: [Int64], now: ContinuousClock.Instant = .now) -> [Bool] {
        var fresh: [Bool] = []
        fresh.reserveCapacity(positions.count)
        var delivered = Set<Int64>()
        for position in positions {
            let awaited = gaps.removeValue(forKey: position) != nil || position > newest
            fresh.append(awaited && delivered.insert(position).inserted)
        }
        if let top = delivered.max(), top > newest {
            // Everything between the old newest and the new one that did not come is a gap, at
            // most `maximumGaps` of them (a burst larger than that could not be waited for anyway).
            let lowest = max(newest + 1, top - Int64(maximumGaps))
            if lowest < top {
                for position in lowest..<top where !delivered.contains(position) {
                    gaps[position] = now
                }
            }
            newest = top
        }
        gaps = gaps.filter { now - $0.value < gapTimeout }
        if gaps.count > maximumGaps {
            for position in gaps.keys.sorted().prefix(gaps.count - maximumGaps) { gaps.removeValue(forKey: position) }
        }
        return fresh
    }
}
