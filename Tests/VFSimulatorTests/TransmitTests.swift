import PMDCore
import Testing
@testable import VFSimulator

/// The transmit path with hand-built descriptors: gather, padding, DD, VLAN insert, MDD,
/// anti-spoofing.
struct TransmitTests {
    static func sending(_ family: SimulatedFamily, settings: PFSettings = PFSettings(mac: Rig.mac)) throws -> (Rig, TestRing, MemorySink) {
        let rig = Rig(family, settings: settings)
        rig.bringUp()
        let r = try rig.setUpTX(count: 16)
        let sink = MemorySink()
        rig.vf.connect(tx: sink)
        return (rig, r, sink)
    }

    static let ours = Frames.udp(size: 128, to: MACAddress(0x02, 9, 9, 9, 9, 9), from: Rig.mac)

    @Test(arguments: SimulatedFamily.allCases)
    func gathersUntilEOPAndWritesDDWhereRSIsSet(family: SimulatedFamily) throws {
        let (rig, r, sink) = try Self.sending(family)
        let frame = Self.ours
        rig.postContext(r, slot: 0)
        rig.postData(r, slot: 1, Array(frame[0..<50]), eop: false, rs: false)
        rig.postData(r, slot: 2, Array(frame[50...]), eop: true, rs: true, bufferOffset: 7)
        rig.bar.write(rig.regs.tx(0, RegisterMap.tail), 3)
        rig.engine.step()
        #expect(sink.frames.map(\.bytes) == [frame])
        #expect(r.descriptor(1).load(fromByteOffset: 12, as: UInt32.self) & 1 == 0)
        #expect(r.descriptor(2).load(fromByteOffset: 12, as: UInt32.self) == TxDescriptor.dd)
        #expect(rig.bar.read(rig.regs.tx(0, RegisterMap.head)) == 3)
        #expect(rig.bar.read(rig.regs.gptc) == 1 && rig.bar.read(rig.regs.gotc) == 128)
        #expect(rig.vf.counters.txFrames == 1 && rig.vf.counters.txBytes == 124)
    }

    @Test func shortFramesArePaddedTo60AndPartialPacketsWait() throws {
        let (rig, r, sink) = try Self.sending(.ixgbe82599)
        let short = Array(Self.ours[0..<42])
        rig.postContext(r, slot: 0)
        rig.postData(r, slot: 1, Array(short[0..<20]), eop: false)
        rig.bar.write(rig.regs.tx(0, RegisterMap.tail), 2)
        rig.engine.step()
        #expect(sink.count == 0 && rig.bar.read(rig.regs.tx(0, RegisterMap.head)) == 0)
        rig.postData(r, slot: 2, Array(short[20...]))
        rig.bar.write(rig.regs.tx(0, RegisterMap.tail), 3)
        rig.engine.step()
        #expect(sink.frames.map(\.bytes) == [short + Array(repeating: 0, count: 18)])
    }

    @Test func x550StopsTheQueueWithoutCheckContext() throws {
        let (rig, r, sink) = try Self.sending(.ixgbeX550)
        rig.postData(r, slot: 0, Self.ours, cc: true)  // CC but no context descriptor before
        rig.bar.write(rig.regs.tx(0, RegisterMap.tail), 1)
        rig.engine.step()
        #expect(sink.count == 0 && rig.vf.counters.mddEvents == 1)
        #expect(rig.vf.violations.map(\.kind) == [.txMissingContext])
        #expect(rig.bar.read(rig.regs.tx(0, RegisterMap.queueControl)) & RegisterMap.queueEnable == 0)
        // 82599 does not check.
        let (old, r2, sink2) = try Self.sending(.ixgbe82599)
        old.postData(r2, slot: 0, Self.ours, cc: false)
        old.bar.write(old.regs.tx(0, RegisterMap.tail), 1)
        old.engine.step()
        #expect(sink2.count == 1 && old.vf.violations.isEmpty)
    }

    @Test(arguments: SimulatedFamily.allCases)
    func insertsTheContextsVLANTag(family: SimulatedFamily) throws {
        let (rig, r, sink) = try Self.sending(family)
        rig.postContext(r, slot: 0, vlan: 0x0123, idx: 1)
        rig.postData(r, slot: 1, Self.ours, vle: true, idx: 1)
        rig.bar.write(rig.regs.tx(0, RegisterMap.tail), 2)
        rig.engine.step()
        #expect(sink.frames.map(\.bytes) == [Frames.tagged(Self.ours, tci: 0x0123)])
    }

    @Test func spoofedSourceIsDroppedUnlessSpoofCheckIsOff() throws {
        let (rig, r, sink) = try Self.sending(.igb82576)
        let spoofed = Frames.udp(size: 64, from: MACAddress(0x02, 7, 7, 7, 7, 7))
        rig.postData(r, slot: 0, spoofed)
        rig.bar.write(rig.regs.tx(0, RegisterMap.tail), 1)
        rig.engine.step()
        #expect(sink.count == 0 && rig.vf.counters.txSpoofed == 1 && rig.bar.read(rig.regs.gptc) == 0)
        #expect(r.descriptor(0).load(fromByteOffset: 12, as: UInt32.self) == TxDescriptor.dd)
        rig.vf.configurePF { $0.spoofCheck = false }
        rig.postData(r, slot: 1, spoofed)
        rig.bar.write(rig.regs.tx(0, RegisterMap.tail), 2)
        rig.engine.step()
        #expect(sink.count == 1)
    }

    @Test func unmappedBufferIsAnIOMMUFaultAndStopsTheQueue() throws {
        let (rig, r, sink) = try Self.sending(.ixgbe82599)
        rig.postData(r, slot: 0, Self.ours)
        r.descriptor(0).storeBytes(of: UInt64(0x10), as: UInt64.self)
        rig.bar.write(rig.regs.tx(0, RegisterMap.tail), 1)
        rig.engine.step()
        #expect(sink.count == 0 && rig.vf.dmaFaults == 1)
        let fault = try #require(rig.container.faults.first)
        #expect(fault.access == .txBuffer && fault.iova == 0x10 && !fault.isWrite && fault.length == 124)
        #expect(r.descriptor(0).load(fromByteOffset: 12, as: UInt32.self) & 1 == 0)
    }

    @Test func tailBeyondTheRingAndLegacyDescriptorsStopTheQueue() throws {
        let (rig, r, _) = try Self.sending(.ixgbe82599)
        rig.bar.write(rig.regs.tx(0, RegisterMap.tail), 99)
        rig.engine.step()
        let (rig2, r2, _) = try Self.sending(.igb82576)
        r2.descriptor(0).storeBytes(of: UInt32(60 | TxDescriptor.eop), toByteOffset: 8, as: UInt32.self)
        rig2.bar.write(rig2.regs.tx(0, RegisterMap.tail), 1)
        rig2.engine.step()
        #expect(rig.vf.violations.map(\.kind) == [.tailOutOfRange] && r.count == 16)
        #expect(rig2.vf.violations.map(\.kind) == [.txLegacyDescriptor])
    }
}
