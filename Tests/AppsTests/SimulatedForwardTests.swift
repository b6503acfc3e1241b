@testable import Apps
import PMDCore
import PcapIO
import Testing
import VFSimulator

/// Ports on simulated VFs, opened as `sim:` specs open them: the driver on the model, the
/// file wires, flow control, and the forwarder over them.
@Suite(.serialized)
struct SimulatedPortTests {
    func settings(_ name: String, rx: String? = nil, tx: String? = nil, loop: Int = 1) -> SimPortSettings {
        var s = SimPortSettings(family: .ixgbevf)
        s.name = name
        s.rxFile = rx
        s.txFile = tx
        s.loop = loop
        s.mac = MACAddress("02:00:00:00:00:02")
        return s
    }

    @Test func fileWireDeliversEveryFrameAddressedToTheVF() throws {
        let lab = SimulatedLab()
        let a = try lab.open(settings("a", rx: "pcaps/sizes.pcap", loop: 3), spec: "a", portNumber: 0)
        try a.start()
        let expected = try PcapReader(path: "pcaps/sizes.pcap").readAll().map(\.bytes)
        var got: [[UInt8]] = []
        let deadline = MonotonicClock.nanoseconds() + 5_000_000_000
        while got.count < 42 && MonotonicClock.nanoseconds() < deadline {
            var batch = PacketBatch()
            _ = a.receive(queue: 0, into: &batch)
            batch.forEach { got.append(Array($0.bytes)) }
        }
        #expect(got == expected + expected + expected)
        #expect(a.isExhausted)
        #expect(a.vf.counters.rxMissed == 0 && a.vf.counters.rxFiltered == 0)
        #expect(OpenedPort.closeAll([OpenedPort(port: a, spec: "a")]).isEmpty)
        #expect(a.vf.violations.isEmpty && a.vf.dmaFaults == 0)
    }
}
