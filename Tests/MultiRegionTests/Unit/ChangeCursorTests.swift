import Testing

@testable import MultiRegion

@Suite("The change cursor: positions that commit out of order")
struct ChangeCursorTests {
    let start = ContinuousClock.now

    @Test("In-order positions are new once, and leave no gap")
    func inOrder() {
        var cursor = ChangeCursor(startingAfter: 10)
        #expect(cursor.accept([11, 12, 13], now: start) == [true, true, true])
        #expect(cursor.newest == 13)
        #expect(cursor.missing.isEmpty)
        #expect(cursor.accept([13], now: start) == [false])
        #expect(cursor.accept([9, 10], now: start) == [false, false])  // from before the start
    }

    @Test("A position skipped over stays asked for, and is new when it comes")
    func gapFilledLater() {
        var cursor = ChangeCursor(startingAfter: 10)
        #expect(cursor.accept([11, 14], now: start) == [true, true])
        #expect(cursor.missing == [12, 13])
        #expect(cursor.accept([13, 15], now: start + .seconds(1)) == [true, true])
        #expect(cursor.missing == [12])
        #expect(cursor.accept([12], now: start + .seconds(2)) == [true])
        #expect(cursor.missing.isEmpty)
        #expect(cursor.accept([12, 13, 14, 15], now: start + .seconds(3)) == [false, false, false, false])
    }

    @Test("A gap open longer than the timeout counts as rolled back and is no longer asked for")
    func gapTimesOut() {
        var cursor = ChangeCursor(startingAfter: 0, gapTimeout: .seconds(10))
        _ = cursor.accept([2], now: start)
        #expect(cursor.missing == [1])
        _ = cursor.accept([], now: start + .seconds(9))
        #expect(cursor.missing == [1])
        _ = cursor.accept([], now: start + .seconds(10))
        #expect(cursor.missing.isEmpty)
        // Were it to come after all, it is older than the newest and no longer awaited.
        #expect(cursor.accept([1], now: start + .seconds(11)) == [false])
    }

    @Test("A read that returns a position twice counts it once")
    func duplicatesInOneRead() {
        var cursor = ChangeCursor(startingAfter: 0)
        #expect(cursor.accept([1, 1, 2], now: start) == [true, false, true])
    }

    @Test("A burst larger than the gap bound keeps only the newest gaps")
    func boundedGaps() {
        var cursor = ChangeCursor(startingAfter: 0, maximumGaps: 100)
        _ = cursor.accept([10_000], now: start)
        #expect(cursor.missing.count == 100)
        #expect(cursor.missing.first == 9_900)
        #expect(cursor.missing.last == 9_999)
    }
}
