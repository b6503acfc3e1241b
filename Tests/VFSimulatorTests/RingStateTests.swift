import PMDCore
import Testing
@testable import VFSimulator

/// What the device tells the application about its rings, read from raw register values as a
/// driver leaves them: drained receive rings, idle transmit rings, all input delivered.
struct RingStateTests {
    @Test(arguments: SimulatedFamily.allCases)
    func receiveRingsAreDrainedWhenTheTailIsOneBehindTheHead(family: SimulatedFamily) {
        let rig = Rig(family)
        #expect(rig.vf.receiveRingsDrained)  // no ring programmed
        rig.bar.write(rig.regs.rx(0, RegisterMap.ringLength), 64 * 16)
        rig.bar.write(rig.regs.rx(0, RegisterMap.head), 5)
        rig.bar.write(rig.regs.rx(0, RegisterMap.tail), 4)
        #expect(rig.vf.receiveRingsDrained)
        rig.bar.write(rig.regs.rx(0, RegisterMap.tail), 2)
        #expect(!rig.vf.receiveRingsDrained)  // slots 2...4 written back, not taken
        rig.bar.write(rig.regs.rx(0, RegisterMap.head), 0)
        rig.bar.write(rig.regs.rx(0, RegisterMap.tail), 63)
        #expect(rig.vf.receiveRingsDrained)  // the wrap: tail 63 is one behind head 0
    }

    @Test(arguments: SimulatedFamily.allCases)
    func transmitRingsAreIdleWhenEveryHeadMeetsItsTail(family: SimulatedFamily) {
        let rig = Rig(family)
        #expect(rig.vf.transmitRingsIdle)
        rig.bar.write(rig.regs.tx(1, RegisterMap.tail), 3)
        #expect(!rig.vf.transmitRingsIdle)
        #expect(!rig.vf.waitForTransmitRingsIdle(timeoutNanoseconds: 2_000_000))  // bounded
        rig.bar.write(rig.regs.tx(1, RegisterMap.head), 3)
        #expect(rig.vf.waitForTransmitRingsIdle(timeoutNanoseconds: 2_000_000))
    }

    @Test func allInputIsDeliveredOnlyAfterTwoPassesAndWithDrainedRings() {
        let engine = SimulationEngine(mode: .threaded)
        let vf = SimulatedVF(family: .ixgbe82599, container: SimulatedContainer(), engine: engine,
                             settings: PFSettings(mac: Rig.mac))
        #expect(!vf.hasDeliveredAllInput)  // no source
        vf.connect(rx: MemorySource(frames: []))
        engine.start()
        defer { engine.stop() }
        let rig = Rig(wrapping: vf)
        // A ring with frames the driver has not taken: never delivered.
        rig.bar.write(rig.regs.rx(0, RegisterMap.ringLength), 64 * 16)
        rig.bar.write(rig.regs.rx(0, RegisterMap.head), 9)
        rig.bar.write(rig.regs.rx(0, RegisterMap.tail), 0)
        let until = MonotonicClock.nanoseconds() + 200_000_000
        while MonotonicClock.nanoseconds() < until { _ = vf.hasDeliveredAllInput; MonotonicClock.sleep(microseconds: 1000) }
        #expect(!vf.hasDeliveredAllInput)
        // The driver took them: delivered once the engine has passed over the VF twice more.
        rig.bar.write(rig.regs.rx(0, RegisterMap.tail), 8)
        let deadline = MonotonicClock.nanoseconds() + 2_000_000_000
        while !vf.hasDeliveredAllInput && MonotonicClock.nanoseconds() < deadline { MonotonicClock.sleep(microseconds: 100) }
        #expect(vf.hasDeliveredAllInput)
        engine.detach(vf)
    }
}
