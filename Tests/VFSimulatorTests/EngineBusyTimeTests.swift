import Foundation
import PMDCore
import Testing
@testable import VFSimulator

/// `SimulationEngine.busyNanoseconds`: the time of the passes that did work, and only theirs.
@Suite struct EngineBusyTimeTests {
    @Test("a threaded engine counts its bring-up passes as busy and its idle passes not at all")
    func idlePassesAreNotCounted() throws {
        let rig = Rig(threaded: .ixgbe82599)
        let engine = rig.engine
        engine.start()
        defer { engine.stop() }
        rig.bringUp()
        // The mailbox exchange and the reset were control work.
        #expect(engine.busyNanoseconds > 0)
        let busyBefore = engine.busyNanoseconds, wallBefore = MonotonicClock.nanoseconds()
        let passesBefore = engine.passCount
        MonotonicClock.sleep(microseconds: 200_000)
        let busy = engine.busyNanoseconds &- busyBefore, wall = MonotonicClock.nanoseconds() &- wallBefore
        // Thousands of passes found nothing to do: together they count for (almost) nothing.
        #expect(engine.passCount > passesBefore + 1000)
        #expect(busy * 20 < wall, "busy \(busy) ns of \(wall) ns with nothing to do")
    }

    @Test("a stepped engine counts no busy time: its time is simulated")
    func steppedEngineCountsNothing() {
        let rig = Rig(.igb82576)
        rig.bringUp()
        rig.engine.advance(microseconds: 1000)
        #expect(rig.engine.busyNanoseconds == 0)
    }
}
