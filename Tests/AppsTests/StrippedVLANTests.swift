@testable import Apps
import Foundation
import PMDCore
import PcapIO
import Testing
import TestSupport
import VFDriver
import VFSimulator

/// How a simulated VF of these tests treats the 802.1Q tag of a frame it receives.
enum TagHandling: String, CaseIterable, Sendable, CustomTestStringConvertible {
    /// An 82576 VF that joined a VLAN: its PF strips the tag (as Linux's igb PF does).
    case igbvfPFStrips
    /// An 82599 VF whose driver asks for stripping (RXDCTL.VME).
    case ixgbevfDriverStrips
    /// An X550 VF whose driver asks for stripping.
    case x550vfDriverStrips
    /// An 82599 VF without stripping: the tag stays in the frame.
    case ixgbevfKeepsTag

    var testDescription: String { rawValue }

    /// The family's name in a `sim:` spec.
    var family: String {
        switch self {
        case .igbvfPFStrips: return "igbvf"
        case .ixgbevfDriverStrips, .ixgbevfKeepsTag: return "ixgbevf"
        case .x550vfDriverStrips: return "x550vf"
        }
    }

    /// Whether the frame reaches the application without its tag.
    var strips: Bool { self != .ixgbevfKeepsTag }

    /// The `sim:` spec of this VF with `options` (starting with a comma); the driver's
    /// stripping, which no spec option sets, is set here.
    func spec(_ options: String) throws -> PortSpec {
        let parsed = try PortSpec(parsing: "sim:\(family)" + options)
        guard self == .ixgbevfDriverStrips || self == .x550vfDriverStrips,
              case .sim(let settings, var driver) = parsed.kind else { return parsed }
        driver.stripVLAN = true
        return PortSpec(text: parsed.text, kind: .sim(settings, driver: driver))
    }
}

/// Where a forwarder sends what it receives: a simulated VF of each family writing its wire
/// to a file, or a pcap port.
enum ForwardOutput: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case igbvf, ixgbevf, x550vf, pcap

    var testDescription: String { rawValue }

    /// The port's spec, writing what it sends to `file`.
    func spec(writingTo file: String) -> String {
        self == .pcap ? "pcap:tx=\(file)" : "sim:\(rawValue),name=b,tx=\(file),spoofchk=off,mtu=9000"
    }
}

/// The VF's MAC: the destination of the sample captures' unicast frames.
private let vfMAC = "02:00:00:00:00:02"

/// Frames of `name` in `pcaps/`, padded to 60 bytes as the wire pads them.
private func sampleFrames(_ name: String) throws -> [[UInt8]] {
    try PcapReader(path: samplePath(name)).readAll().map { $0.bytes + [UInt8](repeating: 0, count: max(0, 60 - $0.bytes.count)) }
}

/// Whether the frame carries an 802.1Q tag after its addresses.
private func isTagged(_ frame: [UInt8]) -> Bool { frame.count >= 14 && frame[12] == 0x81 && frame[13] == 0x00 }

/// Whether `frames` are some of `input`, in order (what a VF's filters let through).
private func areInOrder(_ frames: [[UInt8]], of input: [[UInt8]]) -> Bool {
    var next = input.makeIterator()
    return frames.allSatisfy { frame in
        while let candidate = next.next() { if candidate == frame { return true } }
        return false
    }
}

/// A stripped tag written back: captures and forwards of a VF whose tags are stripped hold
/// the frames as they were on the wire, on every family and every kind of output.
@Suite(.serialized)
struct StrippedVLANTests {
    /// A port on a VF of `handling` fed from `capture`, in VLANs 100, 4094 and 7; `more` is
    /// added to its spec.
    func openTaggedSource(_ handling: TagHandling, capture: String, more: String = "",
                          lab: SimulatedLab) throws -> OpenedPort {
        let opened = try OpenedPort.open(try handling.spec(
            ",name=a,rx=\(samplePath(capture)),mac=\(vfMAC),trust=on,allmulti=on,vlan=100" + more), lab: lab)
        let port = try #require(opened.port as? VFPort)
        try port.addVLAN(4094)
        try port.addVLAN(7)
        return opened
    }

    /// Captures what the VF of `handling` receives of `capture` with `options` changed by `adjust`.
    func capture(_ handling: TagHandling, _ capture: String, to output: String,
                 adjust: (inout CaptureOptions) -> Void = { _ in }) throws -> CaptureSummary {
        let lab = SimulatedLab()
        let opened = try openTaggedSource(handling, capture: capture, lab: lab)
        var options = CaptureOptions(output: output)
        adjust(&options)
        let summary = try CaptureEngine(port: opened.port, options: options).run()
        let vf = try #require(lab.simulatedVF(behind: opened.port))
        #expect(OpenedPort.closeAll([opened]).isEmpty)
        #expect(vf.violations.isEmpty && vf.dmaFaults == 0)
        #expect(summary.counters.addsUp)
        return summary
    }

    @Test("the port hands over the VLAN-100 frame of protocols.pcap without its tag exactly when the VF strips",
          arguments: TagHandling.allCases)
    func premise(_ handling: TagHandling) throws {
        let lab = SimulatedLab()
        let opened = try openTaggedSource(handling, capture: "protocols.pcap", lab: lab)
        let port = opened.port
        try port.start()
        var received: [(bytes: [UInt8], flags: PacketFlags, tci: UInt16)] = []
        let deadline = MonotonicClock.nanoseconds() + 5_000_000_000
        while port.condition == .running && MonotonicClock.nanoseconds() < deadline {
            var batch = PacketBatch()
            _ = port.receive(queue: 0, into: &batch)
            batch.forEach { received.append((Array($0.bytes), $0.flags, $0.metadata.pointee.vlanTCI)) }
        }
        #expect(OpenedPort.closeAll([opened]).isEmpty)
        let input = try sampleFrames("protocols.pcap")
        let vlan100 = input[5]
        let untagged = Array(vlan100[0..<12] + vlan100[16...])
        if handling.strips {
            let match = received.first { $0.bytes == untagged }
            #expect(match?.flags.contains(.vlanStripped) == true && match?.tci == 100)
        } else {
            let match = received.first { $0.bytes == vlan100 }
            #expect(match != nil && match?.flags.contains(.vlanStripped) == false)
        }
    }

    @Test("a capture holds the frames as they were on the wire: the stripped tags are back",
          arguments: TagHandling.allCases)
    func captureRestoresTags(_ handling: TagHandling) throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let out = dir + "/out.pcap"
        let summary = try capture(handling, "protocols.pcap", to: out)
        let input = try sampleFrames("protocols.pcap")
        let written = try PcapReader(path: out).readAll()
        #expect(summary.counters.written == UInt64(written.count))
        // Every frame delivered is the input frame, in order; both tagged frames are among them.
        #expect(areInOrder(written.map(\.bytes), of: input))
        #expect(written.allSatisfy { $0.originalLength == $0.bytes.count })
        #expect(written.map(\.bytes).filter(isTagged) == [input[5], input[6]])
        try expectReadableByTools(out, frames: written.count)
        let tshark = try runProcess("/usr/bin/tshark", ["-r", out, "-Y", "vlan", "-T", "fields", "-e", "vlan.id", "-e", "frame.len"])
        #expect(tshark.stdout.split(separator: "\n") == ["100\t64", "4094\t1518"])
        let tcpdump = try runProcess("/usr/bin/tcpdump", ["-nr", out, "-e", "vlan 100"])
        #expect(tcpdump.stdout.contains("ethertype 802.1Q (0x8100), length 64: vlan 100"))
    }

    @Test("a 9000-byte jumbo frame is captured with its tag", arguments: TagHandling.allCases)
    func jumboCapture(_ handling: TagHandling) throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let out = dir + "/jumbo.pcap"
        let lab = SimulatedLab()
        let opened = try openTaggedSource(handling, capture: "jumbo.pcap", more: ",mtu=9000", lab: lab)
        _ = try CaptureEngine(port: opened.port, options: CaptureOptions(output: out)).run()
        #expect(OpenedPort.closeAll([opened]).isEmpty)
        #expect(try CaptureComparison(expected: samplePath("jumbo.pcap"), actual: out).run() == .identical(frames: 3))
    }

    @Test("a VLAN filter matches the frame as it was on the wire", arguments: TagHandling.allCases)
    func filterSeesTheTag(_ handling: TagHandling) throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let input = try sampleFrames("protocols.pcap")
        let filters: [(String, [[UInt8]])] = [
            ("vlan 100", [input[5]]),
            ("vlan", [input[5], input[6]]),
            // Past the tag: the UDP port of the 1518-byte frame's restored bytes.
            ("vlan 4094 and udp dst port 9 and len = 1518", [input[6]]),
            ("vlan and ip[0] & 0xf = 5", [input[5], input[6]]),
        ]
        for (expression, expected) in filters {
            let out = dir + "/filtered.pcap"
            let summary = try capture(handling, "protocols.pcap", to: out) { $0.filter = expression }
            let written = try PcapReader(path: out).readAll().map(\.bytes)
            #expect(written == expected, "\(expression)")
            #expect(summary.counters.filteredOut == summary.counters.received - UInt64(expected.count), "\(expression)")
        }
        // Frames without a tag still match a filter on what they hold.
        let out = dir + "/untagged.pcap"
        _ = try capture(handling, "protocols.pcap", to: out) { $0.filter = "not vlan" }
        #expect(try PcapReader(path: out).readAll().map(\.bytes).allSatisfy { !isTagged($0) && input.contains($0) })
    }

    @Test("the snap length cuts the frame with its tag; the original length counts the tag",
          arguments: TagHandling.allCases)
    func snapLengthCutsTheRestoredFrame(_ handling: TagHandling) throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let input = try sampleFrames("protocols.pcap")
        for snap in [6, 12, 13, 14, 16, 17, 40, 64, 65] {
            let out = dir + "/snap.pcap"
            _ = try capture(handling, "protocols.pcap", to: out) {
                $0.snapLength = snap
                $0.filter = "vlan"
            }
            let written = try PcapReader(path: out).readAll()
            #expect(written.map(\.bytes) == [input[5], input[6]].map { Array($0.prefix(snap)) }, "snap \(snap)")
            #expect(written.map(\.originalLength) == [64, 1518], "snap \(snap)")
        }
    }

    /// Forwards what the VF of `handling` receives of `capture` to `output`, writing `file`.
    func forward(_ handling: TagHandling, _ capture: String, to output: ForwardOutput, file: String,
                 mode: ForwardMode = .io, peers: [MACAddress] = []) throws -> ForwardSummary {
        let lab = SimulatedLab()
        let source = try openTaggedSource(handling, capture: capture, more: ",mtu=9000", lab: lab)
        let ports = [source] + (try OpenedPort.openAll([try PortSpec(parsing: output.spec(writingTo: file))], lab: lab))
        var config = ForwardConfiguration()
        config.mode = mode
        config.peerMACs = peers
        config.drainQuietSeconds = 0.1
        let forwarder = try Forwarder(ports: ports, configuration: config)
        for p in ports { try p.port.start() }
        let summary = forwarder.run(report: { _ in })
        for p in ports {
            guard let vf = lab.simulatedVF(behind: p.port) else { continue }
            #expect(vf.violations.isEmpty && vf.dmaFaults == 0)
        }
        #expect(OpenedPort.closeAll(ports).isEmpty)
        #expect(summary.reason == .inputExhausted)
        return summary
    }

    @Test("io forwarding sends the frames as they arrived, tags and 9000-byte jumbo frames included",
          arguments: TagHandling.allCases, ForwardOutput.allCases)
    func ioForwardingIsByteExact(_ handling: TagHandling, _ output: ForwardOutput) throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let jumbo = dir + "/jumbo.pcap"
        let summary = try forward(handling, "jumbo.pcap", to: output, file: jumbo)
        #expect(summary.forwarded == 3)
        #expect(try CaptureComparison(expected: samplePath("jumbo.pcap"), actual: jumbo).run() == .identical(frames: 3))

        let protocols = dir + "/protocols.pcap"
        _ = try forward(handling, "protocols.pcap", to: output, file: protocols)
        let input = try sampleFrames("protocols.pcap")
        let sent = try PcapReader(path: protocols).readAll()
        #expect(areInOrder(sent.map(\.bytes), of: input))
        #expect(sent.map(\.bytes).filter(isTagged) == [input[5], input[6]])
        try expectReadableByTools(protocols, frames: sent.count)
        let tshark = try runProcess("/usr/bin/tshark", ["-r", protocols, "-Y", "vlan", "-T", "fields", "-e", "vlan.id", "-e", "frame.len"])
        #expect(tshark.stdout.split(separator: "\n") == ["100\t64", "4094\t1518"])
    }

    @Test("macswap and mac modes change the addresses and keep the tag", arguments: [ForwardOutput.igbvf, .pcap])
    func rewritesKeepTheTag(_ output: ForwardOutput) throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let input = try sampleFrames("jumbo.pcap")
        let swapped = dir + "/macswap.pcap"
        _ = try forward(.igbvfPFStrips, "jumbo.pcap", to: output, file: swapped, mode: .macswap)
        let peer = MACAddress("02:00:00:00:00:99")!
        let rewritten = dir + "/mac.pcap"
        _ = try forward(.igbvfPFStrips, "jumbo.pcap", to: output, file: rewritten, mode: .mac, peers: [.broadcast, peer])
        // Bytes 12 on hold the tag of the VLAN-7 jumbo frame.
        let macswapped = try PcapReader(path: swapped).readAll().map(\.bytes)
        #expect(macswapped == input.map { Array($0[6..<12] + $0[0..<6] + $0[12...]) })
        let addressed = try PcapReader(path: rewritten).readAll().map(\.bytes)
        #expect(addressed.map { Array($0[0..<6]) } == input.map { _ in peer.array })
        #expect(addressed.map { Array($0[12...]) } == input.map { Array($0[12...]) })
    }
}
