@testable import Apps
import PMDCore
import VFDriver
import PcapIO
import Testing
import VFSimulator

/// Ports on simulated VFs, opened as `sim:` specs open them: the driver on the model, the
/// file wires, flow control, and the forwarder over them.
@Suite(.serialized)
struct SimulatedPortTests {
    @Test func fileWireDeliversEveryFrameAddressedToTheVF() throws {
        let lab = SimulatedLab()
        let opened = try OpenedPort.open(PortSpec(parsing: "sim:ixgbevf,name=a,rx=pcaps/sizes.pcap,loop=3,mac=02:00:00:00:00:02"), lab: lab)
        let a = opened.port
        let vf = try #require(lab.simulatedVF(behind: a))
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
        // Exhausted once the engine has passed over the VF since the last frame.
        let until = MonotonicClock.nanoseconds() + 2_000_000_000
        while a.condition == .running && MonotonicClock.nanoseconds() < until { MonotonicClock.sleep(microseconds: 100) }
        #expect(a.condition == .inputExhausted)
        #expect(vf.counters.rxMissed == 0 && vf.counters.rxFiltered == 0)
        #expect(OpenedPort.closeAll([opened]).isEmpty)
        #expect(vf.violations.isEmpty && vf.dmaFaults == 0)
    }
}

/// `vfpmd forward`'s engine between simulated VFs with the real driver: byte-exact, the
/// rewrites change exactly the MAC bytes, RSS spreads flows, link loss is counted, and every
/// buffer comes home.
@Suite(.serialized)
struct SimulatedForwardTests {
    static let vfMAC = MACAddress("02:00:00:00:00:02")!

    /// Receiving VF `a` fed from `capture`, sending VF `b` writing `output`.
    /// `optionsA` and `optionsB` are added to the two ports' specs.
    func forward(_ capture: String, to output: String, family: String = "ixgbevf", mode: ForwardMode = .io,
                 optionsA: String = "", optionsB: String = ",spoofchk=off",
                 peers: [MACAddress] = [],
                 prepareA: (VFPort) throws -> Void = { _ in },
                 inspect: ([OpenedPort], SimulatedLab) -> Void = { _, _ in }) throws -> (ForwardSummary, [String]) {
        let lab = SimulatedLab()
        let specs = ["sim:\(family),name=a,rx=\(capture),mac=\(Self.vfMAC)" + optionsA,
                     "sim:\(family),name=b,tx=\(output)" + optionsB]
        let ports = try OpenedPort.openAll(specs.map { try PortSpec(parsing: $0) }, lab: lab)
        try prepareA(try #require(ports[0].port as? VFPort))
        var config = ForwardConfiguration()
        config.mode = mode
        config.peerMACs = peers
        config.drainQuietSeconds = 0.1
        let forwarder = try Forwarder(ports: ports, configuration: config)
        for p in ports { try p.port.start() }
        let summary = forwarder.run(report: { _ in })
        inspect(ports, lab)
        for p in ports {
            let vf = try #require(lab.simulatedVF(behind: p.port))
            #expect(vf.violations.isEmpty && vf.dmaFaults == 0)
        }
        return (summary, OpenedPort.closeAll(ports))
    }

    func temporaryPath(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("vfpmd-\(getpid())-\(name)").path
    }

    @Test(arguments: ["sizes.pcap", "protocols.pcap", "jumbo.pcap", "udp64x256.pcap"])
    func ioModeIsByteExactForEveryCapture(_ file: String) throws {
        let out = temporaryPath("io-\(file)")
        defer { unlink(out) }
        // What the frames need from the PF: multicast groups, their VLANs, jumbo frames.
        let (summary, leaks) = try forward("pcaps/\(file)", to: out, optionsA: ",trust=on,allmulti=on,vlan=7,mtu=9000",
                                           optionsB: ",spoofchk=off,mtu=9000") { a in
            try a.addVLAN(100)
            try a.addVLAN(4094)
        }
        #expect(leaks.isEmpty)
        #expect(summary.reason == .inputExhausted)
        let verdict = try CaptureComparison(expected: "pcaps/\(file)", actual: out).run()
        let count = try PcapReader(path: "pcaps/\(file)").readAll().count
        #expect(verdict == .identical(frames: count))
    }

    @Test func macswapAndMacModesChangeExactlyTheAddresses() throws {
        let input = try PcapReader(path: "pcaps/sizes.pcap").readAll().map(\.bytes)
        let swapped = temporaryPath("macswap")
        defer { unlink(swapped) }
        _ = try forward("pcaps/sizes.pcap", to: swapped, mode: .macswap)
        let out1 = try PcapReader(path: swapped).readAll().map(\.bytes)
        #expect(out1.count == input.count)
        for (o, i) in zip(out1, input) {
            #expect(Array(o[0..<6]) == Array(i[6..<12]) && Array(o[6..<12]) == Array(i[0..<6]))
            #expect(Array(o[12...]) == Array(i[12...]))
        }
        // Mode mac passes the PF's anti-spoofing with spoof checking on.
        let rewritten = temporaryPath("mac")
        defer { unlink(rewritten) }
        let peer = MACAddress("02:00:00:00:00:99")!
        _ = try forward("pcaps/sizes.pcap", to: rewritten, mode: .mac,
                        optionsB: ",spoofchk=on,mac=02:00:00:00:00:0b",
                        peers: [.broadcast, peer])
        let out2 = try PcapReader(path: rewritten).readAll().map(\.bytes)
        #expect(out2.count == input.count)
        for (o, i) in zip(out2, input) {
            #expect(Array(o[0..<6]) == peer.array && Array(o[6..<12]) == MACAddress("02:00:00:00:00:0b")!.array)
            #expect(Array(o[12...]) == Array(i[12...]))
        }
    }

    @Test func rssSpreadsFlowsOverQueuesAndLosesNothing() throws {
        // 64 flows differing in their IPv4 destination (the fields X550 hashes).
        let capture = temporaryPath("flows.pcap")
        defer { unlink(capture) }
        let writer = try PcapFileWriter(path: capture)
        var frames: [[UInt8]] = []
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: 128, alignment: 64)
        defer { buffer.deallocate() }
        for n in 0..<512 {
            let length = BenchFrame.writeTemplate(into: buffer, size: 64, flow: n % 64, source: .broadcast, destination: Self.vfMAC)
            writer.write(buffer, length: length, wallNanoseconds: UInt64(n))
            frames.append(Array(UnsafeRawBufferPointer(start: buffer, count: length)))
        }
        try writer.close()
        let out = temporaryPath("rss-out.pcap")
        defer { unlink(out) }
        var queuesUsed = 0
        let (summary, leaks) = try forward(capture, to: out, family: "x550vf",
                                           optionsA: ",queues=4", optionsB: ",spoofchk=off,queues=4", inspect: { ports, lab in
            // RX heads of VF a's queues: each one that moved received frames.
            guard let vf = lab.simulatedVF(behind: ports[0].port) else { return }
            let map = vf.family.registers
            queuesUsed = (0..<4).filter { vf.bar0.read(map.rx($0, RegisterMap.head)) != 0 }.count
        })
        #expect(queuesUsed >= 3)
        #expect(leaks.isEmpty)
        let got = try PcapReader(path: out).readAll().map(\.bytes)
        let same = got.sorted { $0.lexicographicallyPrecedes($1) } == frames.sorted { $0.lexicographicallyPrecedes($1) }
        #expect(same)
        #expect(summary.forwarded == 512)
    }
}

import Foundation

/// `vfpmd capture` on a simulated ixgbevf VF: every capture of `pcaps/` comes back byte-exact
/// (frames under 60 bytes padded to 60 by the wire).
@Suite(.serialized)
struct SimulatedCaptureTests {
    @Test(arguments: ["sizes.pcap", "protocols.pcap", "jumbo.pcap", "udp64x256.pcap"])
    func captureIsByteExactForEveryCapture(_ file: String) throws {
        let lab = SimulatedLab()
        // Three VLANs: the spec joins one, the test the others through the driver.
        let opened = try OpenedPort.open(PortSpec(parsing: "sim:ixgbevf,rx=pcaps/\(file),mac=02:00:00:00:00:02,trust=on,allmulti=on,vlan=7,mtu=9000"), lab: lab)
        let port = try #require(opened.port as? VFPort)
        try port.addVLAN(100)
        try port.addVLAN(4094)
        let vf = try #require(lab.simulatedVF(behind: port))
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("vfpmd-\(getpid())-capture-\(file)").path
        defer { unlink(out) }
        let engine = try CaptureEngine(port: port, options: CaptureOptions(output: out))
        let summary = try engine.run()
        #expect(summary.counters.addsUp)
        #expect(OpenedPort.closeAll([opened]).isEmpty)
        let count = try PcapReader(path: "pcaps/\(file)").readAll().count
        #expect(try CaptureComparison(expected: "pcaps/\(file)", actual: out).run() == .identical(frames: count))
        #expect(vf.violations.isEmpty && vf.dmaFaults == 0)
    }
}
