import DriverTestSupport
import PMDCore
import Testing
import VFDriver
import VFSimulator

/// 64-bit counters over the device's rollover registers; link state.
struct StatsAndLinkTests {
    @Test(arguments: allFamilies)
    func countersCrossTheirRegisterWidth(family: SimulatedFamily) throws {
        let setup = SimulatedSetup(family)
        let port = try setup.open()
        let pool = try transmitPool(for: port)
        let octetWidth: UInt64 = family.isIxgbe ? 36 : 32
        setup.vf.presetStatistic(.rxPackets, to: (1 << 32) - 5)
        setup.vf.presetStatistic(.rxOctets, to: (1 << octetWidth) - 100)
        setup.vf.presetStatistic(.txPackets, to: (1 << 32) - 3)
        setup.vf.presetStatistic(.txOctets, to: (1 << octetWidth) - 50)
        setup.advance(10)
        port.updateStats()
        let before = port.stats
        let frames = (0..<20).map { udpFrame(to: assignedMAC, length: 100, sequence: $0) }
        setup.inject(frames)
        #expect(setup.receive(port, count: 20).count == 20)
        setup.transmit(port, (0..<10).map { udpFrame(to: peerMAC, from: assignedMAC, length: 100, sequence: $0) }, from: pool)
        port.updateStats()
        let delta = port.stats.delta(since: before)
        #expect(delta.rxPackets == 20)
        #expect(delta.txPackets == 10)
        // The octet registers count each frame with its 4-byte CRC.
        #expect(delta.rxBytes == 20 * 104)
        #expect(delta.txBytes == 10 * 104)
        setup.expectCleanRun()
        closeAndExpectWholePools(port, extra: [pool])
    }

    @Test(arguments: allFamilies)
    func linkGoesDownAndComesBack(family: SimulatedFamily) throws {
        let setup = SimulatedSetup(family)
        let port = try setup.open()
        port.updateStats()
        #expect(port.link == LinkStatus(isUp: true, speedMbps: family.isIxgbe ? 10_000 : 1000))
        setup.vf.setLink(up: false)
        setup.advance(10)
        port.updateStats()
        #expect(port.link == .down)
        setup.vf.setLink(up: true, speedMbps: family.isIxgbe ? 1000 : 100)
        setup.advance(10)
        port.updateStats()
        #expect(port.link == LinkStatus(isUp: true, speedMbps: family.isIxgbe ? 1000 : 100))
        #expect(port.stats.resets == 0)
        // Traffic flows again after the link came back.
        setup.inject([udpFrame(to: assignedMAC, length: 80, sequence: 1)])
        #expect(setup.receive(port, count: 1).count == 1)
        setup.expectCleanRun()
        closeAndExpectWholePools(port)
    }
}
