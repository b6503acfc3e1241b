import PMDCore
import Testing
@testable import VFSimulator

/// The PF's count of the frames its filters did not deliver, one reason at a time, with what
/// the dropped frames had in common.
struct FilterDropTests {
    typealias M = PFMailboxMessage

    @Test func unicastToAnotherMACIsCountedWithTheMostCommonDestination() throws {
        let a = MACAddress(0x02, 0, 0, 0, 0, 0xAA), b = MACAddress(0x02, 0, 0, 0, 0, 0xBB)
        let frames = [a, b, a, a, Rig.mac].map { Frames.udp(to: $0) }
        let (rig, _) = try ReceiveTests.receiving(.ixgbe82599, frames)
        var expected = FilterDrops()
        expected.unicastAddress = 4
        #expect(rig.vf.filterDrops == expected && rig.vf.counters.rxFrames == 1)
        #expect(rig.vf.mostDroppedDestination == a)
    }

    @Test(arguments: SimulatedFamily.allCases)
    func multicastNotJoinedIsCounted(family: SimulatedFamily) throws {
        let group = MACAddress(0x01, 0x00, 0x5E, 0x00, 0x12, 0x34)
        let (rig, _) = try ReceiveTests.receiving(family, [Frames.udp(to: group), Frames.udp(to: group)])
        #expect(rig.vf.filterDrops.multicastGroup == 2 && rig.vf.filterDrops.total == 2)
        #expect(rig.vf.mostDroppedDestination == nil)
    }

    @Test func broadcastRefusedInXcastNoneIsCounted() throws {
        let (rig, _) = try ReceiveTests.receiving(.ixgbeX550, [Frames.udp(to: .broadcast), Frames.udp()]) {
            $0.send([M.updateXcastMode, 0])
        }
        #expect(rig.vf.filterDrops.broadcast == 1 && rig.vf.filterDrops.total == 1 && rig.vf.counters.rxFrames == 1)
    }

    @Test func vlanNotJoinedIsCountedWithItsID() throws {
        let tagged = Frames.tagged(Frames.udp(), tci: 0x2064)  // priority 1, VLAN 100
        let (rig, _) = try ReceiveTests.receiving(.ixgbeX550, [tagged, tagged, Frames.udp()])
        #expect(rig.vf.filterDrops.vlan == 2 && rig.vf.filterDrops.total == 2 && rig.vf.counters.rxFrames == 1)
        #expect(rig.vf.mostDroppedVLAN == 100)
    }

    @Test(arguments: SimulatedFamily.allCases)
    func framesOverTheMaxFrameAreCountedWithTheLongest(family: SimulatedFamily) throws {
        let frames = [Frames.udp(size: 1600), Frames.udp(size: 2000), Frames.udp(size: 1518)]
        let (rig, _) = try ReceiveTests.receiving(family, frames)
        #expect(rig.vf.filterDrops.frameSize == 2 && rig.vf.filterDrops.total == 2 && rig.vf.counters.rxFrames == 1)
        #expect(rig.vf.longestDroppedFrame == 1996)  // without CRC
    }

    @Test func framesWhileThePFKeepsReceiveOffAreCounted() throws {
        // 82599: a jumbo max frame asked of a PF with a standard MTU turns the VF's receive off.
        let (rig, _) = try ReceiveTests.receiving(.ixgbe82599, [Frames.udp(), Frames.udp()]) { $0.send([M.setLPE, 9018]) }
        #expect(!rig.vf.pfView.receiveEnabled)
        #expect(rig.vf.filterDrops.receiveDisabled == 2 && rig.vf.filterDrops.total == 2)
    }

    @Test func deliveredFramesCountNothingAndTheCountsSurviveAVFReset() throws {
        let (rig, _) = try ReceiveTests.receiving(.igb82576, [Frames.udp(), Frames.udp(to: .broadcast), Frames.udp(to: MACAddress(0x02, 1, 1, 1, 1, 1))])
        #expect(rig.vf.filterDrops.total == 1 && rig.vf.counters.rxFrames == 2)
        try rig.vf.reset()
        rig.settle()
        #expect(rig.vf.filterDrops.unicastAddress == 1)
    }

    @Test func theMajorityVoteKeepsTheValueOfMoreThanHalf() {
        let vote = MajorityVote()
        #expect(vote.winner == nil)
        for v: UInt64 in [7, 3, 7, 5, 7, 7, 3] { vote.vote(v) }
        #expect(vote.winner == 7)
        let zero = MajorityVote()
        zero.vote(0)
        #expect(zero.winner == 0)
    }
}
