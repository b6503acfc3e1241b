import Apps
import Foundation
import PMDCore
import PcapIO
import Testing
import TestSupport

/// A capture whose frames the simulated PF does not deliver to the VF: the commands still
/// succeed, and their summaries say how many frames the PF's filters dropped, why, and what
/// to set on the port spec; with that set, every frame arrives.
@Suite("PF filter drops in the summaries (the executable)", .serialized)
struct FilterDropCommandTests {
    /// The destination of every frame of `udp64x256.pcap`.
    static let captureDestination = "02:00:00:00:00:02"

    func vfpmd(_ arguments: [String]) throws -> ProcessResult {
        try runProcess(try vfpmdExecutable(), arguments)
    }

    /// The last line of standard output as a JSON object.
    func lastJSON(_ result: ProcessResult) throws -> [String: Any] {
        let line = try #require(result.stdout.split(separator: "\n").last)
        return try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
    }

    /// `frames` copies of a 64-byte UDP frame to `destination`, written to `path`.
    func writeCapture(_ path: String, frames: Int, destination: MACAddress) throws {
        let writer = try PcapFileWriter(path: path)
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: 128, alignment: 64)
        defer { buffer.deallocate() }
        for n in 0..<frames {
            let length = BenchFrame.writeTemplate(into: buffer, size: 64, flow: n, source: MACAddress(0x02, 0, 0, 0, 0, 1),
                                                  destination: destination)
            writer.write(buffer, length: length, wallNanoseconds: UInt64(n))
        }
        try writer.close()
    }

    @Test("forwarding frames addressed to another MAC: exit 0, every frame counted as dropped by the PF, advice mac=; with mac= every frame arrives")
    func unicastToAnotherMAC() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let input = samplePath("udp64x256.pcap")
        let frames = try PcapReader(path: input).readAll().count
        let dropped = try vfpmd(["forward", "--duration", "20", "--json", "--port", "sim:ixgbevf,rx=" + input,
                                 "--port", "sim:ixgbevf,tx=\(dir)/dropped.pcap"])
        #expect(dropped.status == 0, "\(dropped.stderr)")
        #expect(dropped.stderr.contains(": received 0, sent 0,"))
        #expect(dropped.stderr.contains("    not delivered by the PF's filters: \(frames) (\(frames) unicast to another MAC)\n"))
        #expect(dropped.stderr.contains("    advice: set mac=\(Self.captureDestination) on the port spec"))
        #expect(try PcapReader(path: "\(dir)/dropped.pcap").readAll().isEmpty)
        let summary = try lastJSON(dropped)
        let ports = try #require(summary["ports"] as? [[String: Any]])
        let report = try #require(ports.first?["filter_drops"] as? [String: Any])
        let drops = try #require(report["drops"] as? [String: Any])
        #expect(drops["unicast_address"] as? Int == frames && drops["multicast_group"] as? Int == 0)
        #expect((report["advice"] as? String)?.contains("mac=\(Self.captureDestination)") == true)
        #expect(summary["summary"] as? Bool == true && ports.count == 2 && ports[1]["filter_drops"] == nil)

        let delivered = try vfpmd(["forward", "--duration", "20", "--port", "sim:ixgbevf,rx=\(input),mac=\(Self.captureDestination)",
                                   "--port", "sim:ixgbevf,tx=\(dir)/delivered.pcap,spoofchk=off"])
        #expect(delivered.status == 0, "\(delivered.stderr)")
        #expect(delivered.stderr.contains(": received \(frames), sent 0,"))
        #expect(!delivered.stderr.contains("not delivered by the PF's filters"))
        #expect(try CaptureComparison(expected: input, actual: "\(dir)/delivered.pcap").run() == .identical(frames: frames))
    }

    @Test("forwarding multicast the VF did not join: advice allmulti=on,trust=on; with it every frame arrives")
    func multicastNotJoined() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let input = dir + "/mdns.pcap"
        try writeCapture(input, frames: 32, destination: MACAddress(0x01, 0x00, 0x5E, 0x00, 0x00, 0xFB))
        let dropped = try vfpmd(["forward", "--duration", "20", "--port", "sim:igbvf,rx=" + input,
                                 "--port", "sim:igbvf,tx=\(dir)/dropped.pcap"])
        #expect(dropped.status == 0, "\(dropped.stderr)")
        #expect(dropped.stderr.contains("    not delivered by the PF's filters: 32 (32 multicast not joined)\n"))
        #expect(dropped.stderr.contains("    advice: set allmulti=on,trust=on on the port spec"))

        let delivered = try vfpmd(["forward", "--duration", "20", "--port", "sim:igbvf,rx=\(input),allmulti=on,trust=on",
                                   "--port", "sim:igbvf,tx=\(dir)/delivered.pcap,spoofchk=off"])
        #expect(delivered.status == 0, "\(delivered.stderr)")
        #expect(!delivered.stderr.contains("not delivered by the PF's filters"))
        #expect(try PcapReader(path: "\(dir)/delivered.pcap").readAll().count == 32)
    }

    @Test("capture on an X550 VF of frames to another MAC: the summary counts them and offers mac= or promisc=on,trust=on")
    func captureShowsTheDropsAndAdvice() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let result = try vfpmd(["capture", "--duration", "20", "--port", "sim:x550vf,rx=" + samplePath("udp64x256.pcap"),
                                "-w", dir + "/out.pcap"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("\n  not delivered by the PF's filters: 256 (256 unicast to another MAC)\n"))
        #expect(result.stderr.contains("\n  advice: set mac=\(Self.captureDestination) on the port spec"))
        #expect(result.stderr.contains("promisc=on,trust=on"))
    }

    @Test("bench to a destination the peer VF does not have: the summary and its JSON carry the drops")
    func benchShowsTheDrops() throws {
        let result = try vfpmd(["bench", "--port", "sim:ixgbevf,name=a,link=b", "--port", "sim:ixgbevf,name=b,link=a",
                                "--mode", "loop", "--duration", "0.5", "--rate", "10000", "--destination", "02:00:00:00:0a:0b",
                                "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("    advice: set mac=02:00:00:00:0a:0b on the port spec"))
        let summary = try lastJSON(result)
        let ports = try #require(summary["ports"] as? [[String: Any]])
        let report = try #require(ports.last?["filter_drops"] as? [String: Any])
        let drops = try #require(report["drops"] as? [String: Any])
        #expect((drops["unicast_address"] as? Int ?? 0) > 0)
    }
}
