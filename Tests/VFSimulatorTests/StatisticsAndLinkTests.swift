import PMDCore
import Testing
@testable import VFSimulator

/// Statistics registers (widths, rollover, presets) and the link registers of each family.
struct StatisticsAndLinkTests {
    @Test func ixgbeCountersRollOverAt32And36Bits() throws {
        let (rig, _) = try ReceiveTests.receiving(.ixgbe82599, []) { rig in
            rig.vf.presetStatistic(.rxPackets, to: 0xFFFF_FFFF)
            rig.vf.presetStatistic(.rxOctets, to: (1 << 36) - 10)
        }
        rig.vf.connect(rx: MemorySource(frames: [Frames.udp()]))
        rig.engine.step()
        #expect(rig.bar.read(rig.regs.gprc) == 0)
        #expect(rig.bar.read(rig.regs.gorc) == 54 && rig.bar.read(rig.regs.gorcMSB!) == 0)
        rig.vf.presetStatistic(.rxOctets, to: 0xFFFF_FFF0)
        rig.vf.connect(rx: MemorySource(frames: [Frames.udp()]))
        rig.engine.step()
        #expect(rig.bar.read(rig.regs.gorc) == 0x30 && rig.bar.read(rig.regs.gorcMSB!) == 1)
        #expect(rig.bar.read(rig.regs.gprc) == 1)
    }

    @Test func igbOctetCountersAre32Bit() throws {
        let (rig, _) = try ReceiveTests.receiving(.igb82576, []) { $0.vf.presetStatistic(.rxOctets, to: 0xFFFF_FFF0) }
        rig.vf.connect(rx: MemorySource(frames: [Frames.udp()]))
        rig.engine.step()
        #expect(rig.bar.read(rig.regs.gorc) == 0x30 && rig.regs.gorcMSB == nil)
    }

    @Test func transmitCountersAndPresets() throws {
        let (rig, r, _) = try TransmitTests.sending(.ixgbeX550)
        rig.vf.presetStatistic(.txPackets, to: 0xFFFF_FFFF)
        rig.vf.presetStatistic(.txOctets, to: (1 << 36) - 1)
        rig.postContext(r, slot: 0)
        rig.postData(r, slot: 1, TransmitTests.ours)
        rig.bar.write(rig.regs.tx(0, RegisterMap.tail), 2)
        rig.engine.step()
        #expect(rig.bar.read(rig.regs.gptc) == 0 && rig.bar.read(rig.regs.gotc) == 127 && rig.bar.read(rig.regs.gotcMSB!) == 0)
    }

    @Test func statisticsGoBackwardsAndRestartAtVFReset() throws {
        let (rig, _) = try ReceiveTests.receiving(.ixgbe82599, [Frames.udp(), Frames.udp()])
        #expect(rig.bar.read(rig.regs.gprc) == 2)
        rig.vf.inject(.statisticsGoBackwards(by: 5))
        rig.engine.step()
        #expect(rig.bar.read(rig.regs.gprc) == 0xFFFF_FFFD)
        rig.bar.write(rig.regs.ctrl, RegisterMap.ctrlReset)
        rig.engine.step()
        #expect(rig.bar.read(rig.regs.gprc) == 0 && rig.bar.read(rig.regs.gorc) == 0)
    }

    @Test func linkRegistersPerFamily() {
        let ixgbe = Rig(.ixgbe82599)
        let links = ixgbe.regs.links!
        #expect(ixgbe.bar.read(links) == 0x7000_0000)
        ixgbe.vf.setLink(up: false)
        ixgbe.engine.step()
        #expect(ixgbe.bar.read(links) == 0)
        ixgbe.vf.setLink(up: true, speedMbps: 1000)
        ixgbe.engine.step()
        #expect(ixgbe.bar.read(links) == 0x6000_0000)
        let x550 = Rig(.ixgbeX550)
        x550.vf.setLink(up: true, speedMbps: 2500)
        x550.engine.step()
        #expect(x550.bar.read(links) == 0x7800_0000)
        let igb = Rig(.igb82576)
        #expect(igb.bar.read(igb.regs.status) == 0x83)
        igb.vf.setLink(up: false)
        igb.engine.step()
        #expect(igb.bar.read(igb.regs.status) == 0x01)
        igb.vf.setLink(up: true, speedMbps: 100)
        igb.engine.step()
        #expect(igb.bar.read(igb.regs.status) == 0x43)
    }

    @Test func linkDownDropsAndCountsBothDirections() throws {
        let (rig, r, sink) = try TransmitTests.sending(.ixgbe82599)
        _ = try rig.setUpRX(queue: 0, count: 16)
        rig.vf.setLink(up: false)
        rig.vf.connect(rx: MemorySource(frames: [Frames.udp()]))
        rig.postData(r, slot: 0, TransmitTests.ours)
        rig.bar.write(rig.regs.tx(0, RegisterMap.tail), 1)
        rig.engine.step()
        #expect(rig.vf.counters.rxNotReady == 1 && rig.vf.counters.txLinkDown == 1 && sink.count == 0)
        #expect(r.descriptor(0).load(fromByteOffset: 12, as: UInt32.self) == AdvancedTxDescriptor.dd)
    }
}
