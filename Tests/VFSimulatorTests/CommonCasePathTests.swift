import PMDCore
import Testing
@testable import VFSimulator

/// The receive and transmit common-case paths against the general ones: the same frames and
/// descriptors through a VF that takes the common cases and through one that takes only the
/// general paths leave the same rings, buffers, registers (heads, statistics, interrupt causes:
/// all of BAR0), counters, filter drops and wire frames.
struct CommonCasePathTests {
    typealias M = PFMailboxMessage

    /// What one VF left after a run: BAR0, descriptor ring and buffers after every step, and
    /// its counters and drops.
    struct Outcome: Equatable {
        var bar: [UInt32] = []
        var rings: [[UInt8]] = []
        var buffers: [[UInt8]] = []
        var counters = SimulatedVF.Counters()
        var drops = FilterDrops()
        var wire: [[UInt8]] = []
        var violations: [ProtocolViolation] = []
    }

    static func barWords(_ rig: Rig) -> [UInt32] { (0..<(RegisterFile.length / 4)).map { rig.bar.read($0 * 4) } }

    static func ringBytes(_ r: TestRing) -> [UInt8] { Array(UnsafeRawBufferPointer(start: r.ring.address, count: r.count * 16)) }

    /// Frames that take every turn of the receive path: good, bad and absent checksums, TCP, not
    /// IP, a runt, other and group destinations, tags of a joined and another VLAN, a frame of
    /// two buffers, one over the max frame.
    static var receiveMix: [[UInt8]] {
        let good = Frames.udp(size: 64)
        var badIP = good
        badIP[24] ^= 0xFF
        var badUDP = good
        badUDP[40] ^= 0xFF
        var noUDPSum = good
        noUDPSum[40] = 0
        noUDPSum[41] = 0
        var tcp = Frames.udp(size: 128, flow: 1)
        tcp[23] = IPProtocolNumber.tcp
        var notIP = good
        notIP[12] = 0x88
        notIP[13] = 0xB5
        let group = MACAddress(0x01, 0x00, 0x5E, 0x00, 0x00, 0x07)
        return [
            good, Frames.udp(size: 128, flow: 1), badIP, badUDP, noUDPSum, tcp, notIP, Array(good[0..<59]),
            Frames.udp(to: MACAddress(0x02, 9, 9, 9, 9, 9)), Frames.udp(to: MACAddress.broadcast), Frames.udp(to: group),
            Frames.tagged(good, tci: 0x2064), Frames.tagged(good, tci: 200), Frames.udp(size: 1500), Frames.udp(size: 1600),
            Frames.udp(size: 1024 + 4), Frames.udp(size: 1024 + 5),
        ]
    }

    /// Receives `loops` rounds of the mix on a 16-descriptor ring of 1 KiB buffers, a step at a
    /// time, the driver giving back every filled descriptor between steps.
    static func receive(_ family: SimulatedFamily, strip: Bool, commonCase: Bool) throws -> Outcome {
        let rig = Rig(family)
        rig.bringUp(api: .v1_3)
        rig.send([M.setVLAN | 1 << 16, 100])
        rig.send([M.setLPE, 1518])
        rig.vf.commonCasePaths = commonCase
        let r = try rig.setUpRX(count: 16, bufferSize: 1024, strip: strip)
        rig.vf.connect(rx: MemorySource(frames: receiveMix, loops: 6))
        var outcome = Outcome()
        for _ in 0..<6 {
            rig.engine.step()
            outcome.rings.append(ringBytes(r))
            outcome.buffers.append(Array(UnsafeRawBufferPointer(start: r.buffers.address, count: r.count * r.bufferSize)))
            // The driver takes what was filled and posts those descriptors again (head at the
            // tail: the device filled them all).
            let head = Int(rig.bar.read(rig.regs.rx(0, RegisterMap.head)))
            let tail = Int(rig.bar.read(rig.regs.rx(0, RegisterMap.tail)))
            let owned = (head - tail + r.count) % r.count
            for k in 0..<(owned == 0 ? r.count : owned) {
                let i = (tail + k) % r.count
                r.descriptor(i).storeBytes(of: r.bufferIOVA(i), as: UInt64.self)
                r.descriptor(i).storeBytes(of: UInt64(0), toByteOffset: 8, as: UInt64.self)
            }
            rig.bar.write(rig.regs.rx(0, RegisterMap.tail), UInt32((head + r.count - 1) % r.count))
        }
        outcome.bar = barWords(rig)
        outcome.counters = rig.vf.counters
        outcome.drops = rig.vf.filterDrops
        outcome.violations = rig.vf.violations
        return outcome
    }

    @Test(arguments: SimulatedFamily.allCases, [false, true])
    func receiveCommonCaseWritesWhatTheGeneralPathWrites(family: SimulatedFamily, strip: Bool) throws {
        let common = try Self.receive(family, strip: strip, commonCase: true)
        let general = try Self.receive(family, strip: strip, commonCase: false)
        #expect(common == general)
        // The run saw the turns it is meant to: frames delivered, missed, filtered and oversized.
        #expect(general.counters.rxFrames > 0 && general.counters.rxMissed > 0 && general.counters.rxUndersize > 0)
        #expect(general.counters.rxFiltered > 0 && general.counters.rxOversize > 0)
        #expect(general.counters.dmaFaults == 0 && general.counters.rxNotReady == 0)
    }

    /// Posts packets that take every turn of the transmit path on a 16-descriptor ring, in two
    /// rounds (the second wraps): single descriptors with and without RS, a short one, a spoofed
    /// one, a gather, VLAN insertion, checksum insertion, a packet without CC last (an X550
    /// stops the queue there).
    static func transmit(_ family: SimulatedFamily, commonCase: Bool) throws -> Outcome {
        let rig = Rig(family)
        rig.bringUp()
        rig.vf.commonCasePaths = commonCase
        let r = try rig.setUpTX(count: 16)
        let sink = MemorySink()
        rig.vf.connect(tx: sink)
        let ours = Frames.udp(size: 128, to: MACAddress(0x02, 9, 9, 9, 9, 9), from: Rig.mac)
        let spoofed = Frames.udp(size: 64, from: MACAddress(0x02, 7, 7, 7, 7, 7))
        var outcome = Outcome()
        func step(tail: Int) {
            rig.bar.write(rig.regs.tx(0, RegisterMap.tail), UInt32(tail))
            rig.engine.step()
            outcome.rings.append(ringBytes(r))
        }
        rig.postContext(r, slot: 0, vlan: 0x0123)
        rig.postData(r, slot: 1, ours)
        rig.postData(r, slot: 2, Array(ours[0..<42]), rs: false)
        rig.postData(r, slot: 3, spoofed)
        rig.postData(r, slot: 4, Array(ours[0..<50]), eop: false, rs: false)
        rig.postData(r, slot: 5, Array(ours[50...]))
        rig.postData(r, slot: 6, ours, vle: true)
        rig.postData(r, slot: 7, ours)
        r.descriptor(7).storeBytes(of: r.descriptor(7).load(fromByteOffset: 12, as: UInt32.self) | AdvancedTxDescriptor.ixsm,
                                   toByteOffset: 12, as: UInt32.self)
        for slot in 8..<12 { rig.postData(r, slot: slot, ours, rs: slot % 2 == 0) }
        step(tail: 12)
        for slot in [12, 13, 14, 15, 0, 1] { rig.postData(r, slot: slot, ours) }
        rig.postData(r, slot: 2, ours, cc: false)
        step(tail: 3)
        outcome.bar = barWords(rig)
        outcome.counters = rig.vf.counters
        outcome.wire = sink.frames.map(\.bytes)
        outcome.violations = rig.vf.violations
        return outcome
    }

    @Test(arguments: SimulatedFamily.allCases)
    func transmitCommonCaseSendsWhatTheGeneralPathSends(family: SimulatedFamily) throws {
        let common = try Self.transmit(family, commonCase: true)
        let general = try Self.transmit(family, commonCase: false)
        #expect(common == general)
        #expect(general.counters.txFrames >= 14 && general.counters.txSpoofed == 1)
    }
}
