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
        #expect(r.descriptor(2).load(fromByteOffset: 12, as: UInt32.self) == AdvancedTxDescriptor.dd)
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
        #expect(r.descriptor(0).load(fromByteOffset: 12, as: UInt32.self) == AdvancedTxDescriptor.dd)
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
        r2.descriptor(0).storeBytes(of: UInt32(60 | AdvancedTxDescriptor.eop), toByteOffset: 8, as: UInt32.self)
        rig2.bar.write(rig2.regs.tx(0, RegisterMap.tail), 1)
        rig2.engine.step()
        #expect(rig.vf.violations.map(\.kind) == [.tailOutOfRange] && r.count == 16)
        #expect(rig2.vf.violations.map(\.kind) == [.txLegacyDescriptor])
    }
}

/// TX checksum insertion from a context descriptor.
struct TransmitChecksumTests {
    @Test(arguments: [SimulatedFamily.ixgbe82599, .igb82576])
    func insertsIPv4AndUDPChecksums(family: SimulatedFamily) throws {
        let (rig, r, sink) = try TransmitTests.sending(family)
        var frame = TransmitTests.ours
        // IPv4 checksum field zeroed; UDP field holds the pseudo-header sum, as drivers prepare it.
        frame[24] = 0; frame[25] = 0
        let udpLength = frame.count - 34
        var pseudo: UInt32 = 0
        for i in stride(from: 26, to: 34, by: 2) { pseudo += UInt32(frame[i]) << 8 | UInt32(frame[i + 1]) }
        pseudo += 17 + UInt32(udpLength)
        while pseudo > 0xFFFF { pseudo = (pseudo & 0xFFFF) + (pseudo >> 16) }
        frame[40] = UInt8(pseudo >> 8); frame[41] = UInt8(pseudo & 0xFF)
        // Context: MACLEN 14, IPLEN 20, IPv4, L4 type UDP.
        let d = r.descriptor(0)
        d.storeBytes(of: UInt32(14 << 9 | 20), as: UInt32.self)
        d.storeBytes(of: UInt32(0), toByteOffset: 4, as: UInt32.self)
        d.storeBytes(of: UInt32(0x2020_0000 | 0x400), toByteOffset: 8, as: UInt32.self)
        d.storeBytes(of: UInt32(0), toByteOffset: 12, as: UInt32.self)
        rig.postData(r, slot: 1, frame)
        let olinfo = r.descriptor(1).load(fromByteOffset: 12, as: UInt32.self)
        r.descriptor(1).storeBytes(of: olinfo | 0x300, toByteOffset: 12, as: UInt32.self)
        rig.bar.write(rig.regs.tx(0, RegisterMap.tail), 2)
        rig.engine.step()
        #expect(sink.frames.map(\.bytes) == [TransmitTests.ours])
    }
}
