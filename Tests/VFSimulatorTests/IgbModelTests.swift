import PMDCore
import Testing
@testable import VFSimulator

/// What only the 82576 VF model does: its register layout, SRRCTL default size, two queues,
/// no RSS, and the igb PF's VLAN stripping.
struct IgbModelTests {
    @Test func registerLayoutIsTheIgbOne() {
        let map = SimulatedFamily.igb82576.registers
        #expect(map.mailbox == 0x0C40 && map.mailboxMemory == 0x0800)
        #expect(map.rx(1, RegisterMap.tail) == 0x2918 && map.tx(1, RegisterMap.queueControl) == 0x3928)
        #expect(map.srrctl == 0x0C && map.srrctlDropEnable == 0x8000_0000 && map.maxQueues == 2)
        #expect(map.gprc == 0x0F10 && map.gotc == 0x0F34 && map.links == nil)
        let ixgbe = SimulatedFamily.ixgbe82599.registers
        #expect(ixgbe.rx(7, RegisterMap.queueControl) == 0x11E8 && ixgbe.srrctl == 0x14 && ixgbe.links == 0x10)
    }

    @Test func srrctlSizeZeroMeansThePFsTwoKiB() throws {
        let rig = Rig(.igb82576)
        rig.resetHandshake()
        let r = try rig.setUpRX(count: 16, bufferSize: 2048)
        rig.bar.write(rig.regs.rx(0, rig.regs.srrctl), 0x8200_0000)  // one buffer, drop enable, size 0
        rig.vf.connect(rx: MemorySource(frames: [Frames.udp(size: 1518)]))
        rig.engine.step()
        #expect(r.writeBack(0).length == 1514 && r.writeBack(0).status & AdvancedRxWriteBack.eop != 0)
    }

    @Test func secondQueueWorksAndRSSIsOff() throws {
        let rig = Rig(.igb82576)
        rig.resetHandshake()
        let q0 = try rig.setUpRX(queue: 0, count: 16)
        let q1 = try rig.setUpRX(queue: 1, count: 16)
        rig.vf.connect(rx: MemorySource(frames: (0..<8).map { Frames.udp(flow: $0) }))
        rig.engine.step()
        #expect(rig.vf.counters.rxFrames == 8)
        #expect(q0.writeBack(7).status & AdvancedRxWriteBack.dd != 0 && q0.writeBack(0).rss == 0 && q0.writeBack(0).pktInfo & 0xF == 0)
        #expect(q1.writeBack(0).status == 0)
    }

    @Test func settingsCanTurnPFStrippingOn() throws {
        var settings = PFSettings(mac: Rig.mac)
        settings.igbStripVLAN = true
        let rig = Rig(.igb82576, settings: settings)
        rig.resetHandshake()
        let r = try rig.setUpRX(count: 16)
        rig.vf.connect(rx: MemorySource(frames: [Frames.tagged(Frames.udp(), tci: 0)]))
        rig.engine.step()
        #expect(r.writeBack(0).length == 60 && r.writeBack(0).status & AdvancedRxWriteBack.vp != 0)
    }
}
