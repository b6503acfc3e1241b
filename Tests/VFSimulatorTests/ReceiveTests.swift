import PMDCore
import Testing
@testable import VFSimulator

/// The receive path with hand-programmed rings: write-back fields, buffers, drops.
struct ReceiveTests {
    typealias M = PFMailboxMessage

    /// A rig after RESET, with RX queue 0 programmed and `frames` on its wire.
    static func receiving(_ family: SimulatedFamily, _ frames: [[UInt8]], count: Int = 64, bufferSize: Int = 2048,
                          strip: Bool = false, before: (Rig) -> Void = { _ in }) throws -> (Rig, TestRing) {
        let rig = Rig(family)
        rig.bringUp(api: .v1_3)
        before(rig)
        let r = try rig.setUpRX(count: count, bufferSize: bufferSize, strip: strip)
        rig.vf.connect(rx: MemorySource(frames: frames))
        rig.engine.step()
        return (rig, r)
    }

    @Test(arguments: SimulatedFamily.allCases)
    func writesBackLengthStatusPacketTypeAndChecksums(family: SimulatedFamily) throws {
        let frame = Frames.udp(size: 64)
        let (rig, r) = try Self.receiving(family, [frame])
        let wb = r.writeBack(0)
        #expect(wb.status == AdvancedRxWriteBack.dd | AdvancedRxWriteBack.eop | AdvancedRxWriteBack.ipcs | AdvancedRxWriteBack.l4cs | AdvancedRxWriteBack.udpcs)
        #expect(wb.length == 60 && wb.pktInfo == AdvancedRxWriteBack.ptypeIPv4 | AdvancedRxWriteBack.ptypeUDP)
        #expect(r.bytes(0, 60) == frame)
        #expect(rig.bar.read(rig.regs.rx(0, RegisterMap.head)) == 1)
        #expect(rig.bar.read(rig.regs.gprc) == 1 && rig.bar.read(rig.regs.gorc) == 64)
        #expect(r.writeBack(1).status == 0)
        #expect(rig.vf.counters.rxFrames == 1 && rig.vf.counters.rxBytes == 60)
    }

    @Test(arguments: SimulatedFamily.allCases)
    func reportsChecksumErrorsInTheFamilysBits(family: SimulatedFamily) throws {
        var badIP = Frames.udp()
        badIP[24] ^= 0xFF  // IPv4 header checksum
        var badUDP = Frames.udp()
        badUDP[40] ^= 0xFF  // UDP checksum
        let (_, r) = try Self.receiving(family, [badIP, badUDP])
        let ipe = family.isIxgbe ? AdvancedRxWriteBack.ixgbeIPE : AdvancedRxWriteBack.igbIPE
        let tcpe = family.isIxgbe ? AdvancedRxWriteBack.ixgbeTCPE : AdvancedRxWriteBack.igbTCPE
        #expect(r.writeBack(0).status & (ipe | tcpe) == ipe)
        #expect(r.writeBack(1).status & (ipe | tcpe) == tcpe)
    }

    @Test func udpZeroChecksumErratumOnlyOn82599() throws {
        var frame = Frames.udp()
        frame[40] = 0
        frame[41] = 0
        let (_, r599) = try Self.receiving(.ixgbe82599, [frame])
        #expect(r599.writeBack(0).status & AdvancedRxWriteBack.ixgbeTCPE != 0)
        let (_, r550) = try Self.receiving(.ixgbeX550, [frame])
        #expect(r550.writeBack(0).status & AdvancedRxWriteBack.ixgbeTCPE == 0 && r550.writeBack(0).status & AdvancedRxWriteBack.l4cs != 0)
    }

    @Test func vlanStripWithVMEAndFilteringByJoinedVLANs() throws {
        let tagged = Frames.tagged(Frames.udp(), tci: 0x2064)  // priority 1, VLAN 100
        // Not joined: filtered.
        let (rig0, _) = try Self.receiving(.ixgbeX550, [tagged])
        #expect(rig0.vf.counters.rxFiltered == 1 && rig0.vf.counters.rxFrames == 0)
        let join: (Rig) -> Void = { $0.send([M.setVLAN | 1 << 16, 100]) }
        let (_, stripped) = try Self.receiving(.ixgbeX550, [tagged], strip: true, before: join)
        let wb = stripped.writeBack(0)
        #expect(wb.status & AdvancedRxWriteBack.vp != 0 && wb.vlan == 0x2064 && wb.length == 60)
        #expect(stripped.bytes(0, 60) == Frames.udp())
        let (_, kept) = try Self.receiving(.ixgbeX550, [tagged], strip: false, before: join)
        #expect(kept.writeBack(0).length == 64 && kept.writeBack(0).vlan == 0 && kept.bytes(0, 64) == tagged)
        // igb: the PF strips once the VF joined a VLAN.
        let (_, igb) = try Self.receiving(.igb82576, [tagged], before: join)
        #expect(igb.writeBack(0).vlan == 0x2064 && igb.writeBack(0).length == 60)
    }

    @Test func framesLargerThanTheBufferSpanDescriptors() throws {
        let frame = Frames.udp(size: 3004)
        let (rig, r) = try Self.receiving(.ixgbeX550, [frame], bufferSize: 1024) { $0.send([M.setLPE, 9018]) }
        #expect(r.writeBack(0).status & (AdvancedRxWriteBack.dd | AdvancedRxWriteBack.eop) == AdvancedRxWriteBack.dd && r.writeBack(0).length == 1024)
        #expect(r.writeBack(1).status & (AdvancedRxWriteBack.dd | AdvancedRxWriteBack.eop) == AdvancedRxWriteBack.dd && r.writeBack(1).length == 1024)
        #expect(r.writeBack(2).status & (AdvancedRxWriteBack.dd | AdvancedRxWriteBack.eop) == AdvancedRxWriteBack.dd | AdvancedRxWriteBack.eop && r.writeBack(2).length == 952)
        #expect(r.bytes(0, 1024) + r.bytes(1, 1024) + r.bytes(2, 952) == frame)
        #expect(rig.bar.read(rig.regs.rx(0, RegisterMap.head)) == 3 && rig.bar.read(rig.regs.gprc) == 1)
    }

    @Test func oversizeFramesAreDroppedAndCounted() throws {
        let (rig, r) = try Self.receiving(.ixgbeX550, [Frames.udp(size: 1519), Frames.udp(size: 1518)])
        #expect(rig.vf.counters.rxOversize == 1 && rig.vf.counters.rxFrames == 1)
        #expect(r.writeBack(0).length == 1514)
        // After SET_LPE(9018) a jumbo frame passes.
        let (big, _) = try Self.receiving(.ixgbeX550, [Frames.udp(size: 9018)], bufferSize: 10240) { $0.send([M.setLPE, 9018]) }
        #expect(big.vf.counters.rxFrames == 1)
    }

    @Test func runtsAreDroppedAndCounted() throws {
        let (rig, r) = try Self.receiving(.ixgbe82599, [Array(Frames.udp()[0..<59]), []])
        #expect(rig.vf.counters.rxUndersize == 2 && r.writeBack(0).status == 0)
    }

    @Test func noFreeDescriptorMeansMissed() throws {
        let frames = (0..<10).map { Frames.udp(flow: $0) }
        let (rig, r) = try Self.receiving(.igb82576, frames, count: 8)
        // Tail 7 of 8: seven slots belong to the device.
        #expect(rig.vf.counters.rxFrames == 7 && rig.vf.counters.rxMissed == 3)
        #expect(r.writeBack(7).status == 0)
        #expect(rig.bar.read(rig.regs.rx(0, RegisterMap.head)) == 7)
    }

    @Test func destinationFilterMulticastHashAndBroadcast() throws {
        let other = Frames.udp(to: MACAddress(0x02, 9, 9, 9, 9, 9))
        let broadcast = Frames.udp(to: .broadcast)
        let group = MACAddress(0x01, 0x00, 0x5E, 0x00, 0x12, 0x34)
        let multicast = Frames.udp(to: group)
        let (rig, _) = try Self.receiving(.ixgbe82599, [other, broadcast, multicast])
        #expect(rig.vf.counters.rxFiltered == 2 && rig.vf.counters.rxFrames == 1)
        // Hash of 01:00:5e:00:12:34 with filter type 0: (0x3412 >> 4) & 0xFFF = 0x341.
        let (joined, _) = try Self.receiving(.ixgbe82599, [multicast]) { $0.send([M.setMulticast | 1 << 16, 0x341]) }
        #expect(joined.vf.counters.rxFrames == 1 && joined.bar.read(joined.regs.mprc) == 1)
        // Xcast NONE: exact MAC only, no broadcast; ALLMULTI: any group.
        let (none, _) = try Self.receiving(.ixgbeX550, [broadcast, Frames.udp()]) { $0.send([M.updateXcastMode, 0]) }
        #expect(none.vf.counters.rxFiltered == 1 && none.vf.counters.rxFrames == 1)
        let (all, _) = try Self.receiving(.ixgbeX550, [multicast]) { $0.send([M.updateXcastMode, 2]); $0.vf.configurePF { $0.trusted = true } }
        #expect(all.vf.counters.rxFrames == 0)  // untrusted when asked: capped at MULTI
        let (trusted, _) = try Self.receiving(.ixgbeX550, [multicast]) { rig in
            rig.vf.configurePF { $0.trusted = true }
            rig.engine.step()
            rig.send([M.updateXcastMode, 2])
        }
        #expect(trusted.vf.counters.rxFrames == 1)
    }

    @Test func descriptorOutsideEveryMappingIsAnIOMMUFault() throws {
        let rig = Rig(.ixgbe82599)
        rig.bringUp()
        let r = try rig.setUpRX(count: 8)
        let bad: UInt64 = 0xDEAD_0000
        r.descriptor(0).storeBytes(of: bad, as: UInt64.self)
        rig.vf.connect(rx: MemorySource(frames: [Frames.udp(), Frames.udp()]))
        rig.engine.step()
        #expect(rig.vf.dmaFaults == 1)
        let fault = try #require(rig.container.faults.first)
        #expect(fault.iova == bad && fault.queue == 0 && fault.access == .rxBuffer && fault.isWrite)
        #expect(fault.function == rig.vf.address && "\(fault)".contains("0xdead0000"))
        #expect(r.writeBack(0).status == 0 && r.writeBack(1).status == 0)
        #expect(rig.vf.counters.rxNotReady == 1)  // the queue stopped: the second frame found it halted
    }

    @Test func enableReadsBackAfterADelayOnIxgbeAndAtOnceOnIgb() throws {
        for family in SimulatedFamily.allCases {
            let rig = Rig(family)
            let r = try TestRing(vf: rig.vf, count: 8, bufferSize: 2048)
            rig.bar.write(rig.regs.rx(0, RegisterMap.ringBaseLow), UInt32(truncatingIfNeeded: r.ring.iova!))
            rig.bar.write(rig.regs.rx(0, RegisterMap.ringBaseHigh), UInt32(r.ring.iova! >> 32))
            rig.bar.write(rig.regs.rx(0, RegisterMap.ringLength), 128)
            rig.bar.write(rig.regs.rx(0, RegisterMap.queueControl), RegisterMap.queueEnable)
            rig.engine.step()
            let control = rig.regs.rx(0, RegisterMap.queueControl)
            #expect((rig.bar.read(control) & RegisterMap.queueEnable != 0) == !family.isIxgbe)
            rig.vf.delay(microseconds: 30)
            #expect(rig.bar.read(control) & RegisterMap.queueEnable != 0)
            #expect(rig.vf.violations.isEmpty)
        }
    }

    @Test func protocolViolationsAreRecorded() throws {
        let rig = Rig(.ixgbeX550)
        let r = try TestRing(vf: rig.vf, count: 8, bufferSize: 2048)
        let control = rig.regs.rx(0, RegisterMap.queueControl)
        rig.bar.write(rig.regs.rx(0, RegisterMap.ringBaseLow), UInt32(truncatingIfNeeded: r.ring.iova!) + 64)
        rig.bar.write(rig.regs.rx(0, RegisterMap.ringBaseHigh), UInt32(r.ring.iova! >> 32))
        rig.bar.write(rig.regs.rx(0, RegisterMap.ringLength), 128)
        rig.bar.write(control, RegisterMap.queueEnable)
        rig.vf.delay(microseconds: 100)
        #expect(rig.bar.read(control) & RegisterMap.queueEnable == 0)
        rig.bar.write(rig.regs.rx(0, RegisterMap.ringBaseLow), UInt32(truncatingIfNeeded: r.ring.iova!))
        rig.bar.write(rig.regs.rx(0, RegisterMap.ringLength), 100)
        rig.bar.write(control, RegisterMap.queueEnable)
        rig.vf.delay(microseconds: 100)
        rig.bar.write(rig.regs.rx(0, RegisterMap.ringLength), 128)
        rig.bar.write(control, RegisterMap.queueEnable)
        rig.engine.step()
        rig.bar.write(rig.regs.rx(0, RegisterMap.tail), 7)  // before the enable reads back
        rig.vf.delay(microseconds: 100)
        rig.bar.write(rig.regs.rx(0, RegisterMap.ringLength), 256)  // while enabled
        rig.engine.step()
        let kinds = rig.vf.violations.map(\.kind)
        #expect(kinds == [.ringBaseMisaligned, .ringLengthInvalid, .tailWrittenBeforeEnable, .ringRegisterWrittenWhileEnabled])
    }
}

/// Enable handshakes the driver changes its mind about.
struct EnableHandshakeTests {
    @Test func disablingWhileTheEnableIsPendingWithdrawsIt() throws {
        let rig = Rig(.ixgbe82599)
        let r = try TestRing(vf: rig.vf, count: 8, bufferSize: 2048)
        let control = rig.regs.tx(0, RegisterMap.queueControl)
        rig.bar.write(rig.regs.tx(0, RegisterMap.ringBaseLow), UInt32(truncatingIfNeeded: r.ring.iova!))
        rig.bar.write(rig.regs.tx(0, RegisterMap.ringBaseHigh), UInt32(r.ring.iova! >> 32))
        rig.bar.write(rig.regs.tx(0, RegisterMap.ringLength), 128)
        rig.bar.write(control, RegisterMap.queueEnable | 32)
        rig.engine.step()
        #expect(rig.bar.read(control) == 32)
        rig.bar.write(control, RegisterMap.queueFlush)  // OOT/DP stop: SWFLSH alone
        rig.vf.delay(microseconds: 100)
        #expect(rig.bar.read(control) == RegisterMap.queueFlush)
        // A second write with ENABLE restarts the wait and then reads back.
        rig.bar.write(control, RegisterMap.queueEnable | 33)
        rig.vf.delay(microseconds: 100)
        #expect(rig.bar.read(control) == RegisterMap.queueEnable | 33)
    }
}
