import Foundation
import PcapIO
import Testing
import TestSupport

/// `vfpmd capture` with several `--port`s into one pcapng capture, as dumpcap's `-i A -i B`,
/// run as users run it and read back by the tools and by the tests' own reader.
extension CaptureCommandTests {
    /// Two simulated VFs, each replaying a sample `loop` times.
    func twoSimulatedPorts(loop: Int) -> [String] {
        ["sim:ixgbevf,name=a,rx=\(samplePath("sizes.pcap")),loop=\(loop),mac=02:00:00:00:00:02",
         "sim:igbvf,name=b,rx=\(samplePath("udp64x256.pcap")),loop=\(loop),mac=02:00:00:00:00:02"]
    }

    /// The counters of the summary's line for port `spec`, by name (`received`, `written`...).
    func portCounters(_ spec: String, in summary: String) -> [String: UInt64] {
        guard let line = summary.split(separator: "\n").first(where: { $0.hasPrefix("  port \(spec): ") }) else { return [:] }
        var counters: [String: UInt64] = [:]
        for part in line.dropFirst("  port \(spec): ".count).split(separator: ", ") {
            let words = part.split(separator: " ", maxSplits: 1)
            if words.count == 2, let value = UInt64(words[0]) { counters[String(words[1])] = value }
        }
        return counters
    }

    @Test("two ports into one .pcapng: an interface each (name, description), every frame on its own interface in timestamp order, a statistics block each matching the summary's line for the port; the tools read it without a warning")
    func twoPorts() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let out = dir + "/both.pcapng"
        let specs = twoSimulatedPorts(loop: 20)
        let run = try runProcess(try vfpmdExecutable(), ["capture", "--port", specs[0], "--port", specs[1], "-w", out])
        #expect(run.status == 0, "\(run.stderr)")
        let sizes = try PcapReader(path: samplePath("sizes.pcap")).readAll()
        let udp = try PcapReader(path: samplePath("udp64x256.pcap")).readAll()
        let file = try PcapngTestReader(path: out)
        #expect(file.trailingBytes == 0 && file.sectionHeaders.count == 1)
        #expect(file.blocks.map(\.type).prefix(3) == [0x0A0D_0D0A, 1, 1])
        #expect(file.interfaces.map { $0.text(2) } == specs)
        #expect(file.interfaces.map { $0.text(3) } == ["simulated 82599 VF", "simulated 82576 VF"])
        let onA = file.packets.filter { $0.interface == 0 }.map(\.bytes)
        let onB = file.packets.filter { $0.interface == 1 }.map(\.bytes)
        #expect(onA == Array(repeating: sizes.map(\.bytes), count: 20).flatMap { $0 })
        #expect(onB == Array(repeating: udp.map(\.bytes), count: 20).flatMap { $0 })
        #expect(file.packets.count == onA.count + onB.count)
        #expect(zip(file.packets, file.packets.dropFirst()).allSatisfy { $0.units <= $1.units }, "frames in timestamp order")
        // The ports' frames interleave: the capture merged them as they came, not one port after the other.
        let switches = zip(file.packets, file.packets.dropFirst()).filter { $0.interface != $1.interface }.count
        #expect(switches > 1)

        #expect(file.statistics.count == 2 && file.blocks.suffix(2).allSatisfy { $0.type == 5 })
        for (index, spec) in specs.enumerated() {
            let block = try #require(file.statistics.first { PcapngTestReader.load32($0.body, 0) == UInt32(index) })
            let port = portCounters(spec, in: run.stderr)
            #expect(block.counter(4) == port["received"] && block.counter(6) == port["written"], "\(spec)")
            #expect(block.counter(5) == port["dropped by ring"] && block.counter(7) == port["dropped by writer"], "\(spec)")
            #expect(port["written"] == UInt64(index == 0 ? onA.count : onB.count))
        }
        #expect(summaryValue("written", in: run.stderr) == UInt64(file.packets.count))
        #expect(summaryValue("received", in: run.stderr) == UInt64(file.packets.count))

        try expectReadableByTools(out, frames: file.packets.count)
        let capinfos = try runProcess("/usr/bin/capinfos", ["-M", out])
        #expect(capinfos.status == 0 && warnings(in: capinfos.stderr).isEmpty, "\(capinfos.stderr)")
        #expect(capinfos.stdout.contains("Number of interfaces in file: 2"))
        #expect(capinfos.stdout.contains("Name = " + specs[0]) && capinfos.stdout.contains("Name = " + specs[1]))
        #expect(capinfos.stdout.contains("Number of packets = \(onA.count)") && capinfos.stdout.contains("Number of packets = \(onB.count)"))
        let tshark = try runProcess("/usr/bin/tshark", ["-r", out, "-T", "fields", "-e", "frame.interface_id", "-e", "frame.interface_name"])
        #expect(tshark.status == 0 && warnings(in: tshark.stderr).isEmpty, "\(tshark.stderr)")
        let lines = tshark.stdout.split(separator: "\n")
        #expect(lines.filter { $0 == "0\t\(specs[0])" }.count == onA.count)
        #expect(lines.filter { $0 == "1\t\(specs[1])" }.count == onB.count)
    }

    @Test("two ports streamed with --pcapng -w - into tshark -r -: every frame read, each on its interface")
    func twoPortsToStandardOutput() throws {
        let specs = twoSimulatedPorts(loop: 2)
        let vfpmd = try vfpmdExecutable()
        let run = try runProcess("/bin/sh", ["-c", "\"$0\" capture --port \"$1\" --port \"$2\" --pcapng -w - 2>/dev/null"
                                             + " | /usr/bin/tshark -r - -T fields -e frame.interface_id -e frame.len", vfpmd, specs[0], specs[1]])
        #expect(run.status == 0 && warnings(in: run.stderr).isEmpty, "\(run.stderr)")
        let sizes = try PcapReader(path: samplePath("sizes.pcap")).readAll()
        let lines = run.stdout.split(separator: "\n")
        #expect(lines.filter { $0.hasPrefix("0\t") }.map { String($0.dropFirst(2)) }
                == Array(repeating: sizes.map { String($0.originalLength) }, count: 2).flatMap { $0 })
        #expect(lines.filter { $0 == "1\t64" }.count == 512 && lines.count == 2 * 14 + 512)
    }

    @Test("pcap -w - streams into tshark -r - as it is captured: tshark reads the frames it asked for and stops, the capture then ends on the closed pipe with its error line and counters that add up")
    func standardOutputIntoTshark() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let (log, status) = (dir + "/stderr.txt", dir + "/status")
        let script = "(\"$0\" capture --port \"$1\" -w - 2>\"$2\"; echo $? >\"$3\") | /usr/bin/tshark -r - -c 1000 -T fields -e frame.len"
        let run = try runProcess("/bin/sh", ["-c", script, try vfpmdExecutable(),
                                             "pcap:rx=" + samplePath("udp64x256.pcap") + ",loop=0", log, status])
        #expect(run.status == 0 && warnings(in: run.stderr).isEmpty, "\(run.stderr)")
        #expect(run.stdout.split(separator: "\n") == Array(repeating: "64", count: 1000))
        #expect(try String(contentsOfFile: status, encoding: .utf8) == "1\n")
        let text = try String(contentsOfFile: log, encoding: .utf8)
        // The per-second counters come before it when tshark took more than a second to start.
        let report = text.split(separator: "\n").drop { $0.hasPrefix("capture ") && $0.contains(" s: ") }
        #expect(report.first == "error: writing standard output: Broken pipe", "\(text)")
        #expect(text.contains("received = written + filtered out + dropped by writer"), "\(text)")
    }

    @Test("-C with two ports: every file starts with its section and both interfaces and ends with a statistics block for each")
    func twoPortsRotated() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let specs = ["pcap:rx=" + samplePath("udp64x256.pcap") + ",loop=50", "pcap:rx=" + samplePath("sizes.pcap") + ",loop=50"]
        let run = try runProcess(try vfpmdExecutable(), ["capture", "--port", specs[0], "--port", specs[1], "-w", dir + "/rot.pcapng", "-C", "1"])
        #expect(run.status == 0, "\(run.stderr)")
        let names = try FileManager.default.contentsOfDirectory(atPath: dir).sorted()
        #expect(names.count >= 2 && names.first == "rot.pcapng")
        var packets = 0
        var perInterface: [UInt32: UInt64] = [0: 0, 1: 0]
        for name in names.sorted(by: { $0.count != $1.count ? $0.count < $1.count : $0 < $1 }) {
            let file = try PcapngTestReader(path: dir + "/" + name)
            #expect(file.blocks.map(\.type).prefix(3) == [0x0A0D_0D0A, 1, 1] && file.blocks.suffix(2).map(\.type) == [5, 5], "\(name)")
            #expect(file.interfaces.map { $0.text(2) } == specs, "\(name)")
            packets += file.packets.count
            for packet in file.packets { perInterface[packet.interface, default: 0] += 1 }
            // Each interface's block: its frames in this file and the ones before, all received and written.
            for interface: UInt32 in [0, 1] {
                let block = file.statistics.first { PcapngTestReader.load32($0.body, 0) == interface }
                #expect(block?.counter(6) == perInterface[interface] && block?.counter(4) == perInterface[interface], "\(name) #\(interface)")
            }
            try expectReadableByTools(dir + "/" + name, frames: file.packets.count)
        }
        #expect(packets == 50 * (256 + 14) && summaryValue("written", in: run.stderr) == UInt64(packets))
    }

    @Test("two ports into --pcapng -w /dev/full: exit 1, the error line first, every frame dropped by the writer; each port's line says what it handed to the writer, not what was written")
    func twoPortsDeviceFull() throws {
        let specs = ["pcap:rx=" + samplePath("udp64x256.pcap") + ",loop=4", "pcap:rx=" + samplePath("sizes.pcap") + ",loop=4"]
        let run = try runProcess(try vfpmdExecutable(), ["capture", "--port", specs[0], "--port", specs[1], "--pcapng", "-w", "/dev/full"])
        #expect(run.status == 1)
        #expect(run.stderr.split(separator: "\n").first == "error: writing /dev/full: No space left on device", "\(run.stderr)")
        let received = summaryValue("received", in: run.stderr)
        #expect(received != nil && received! > 0 && summaryValue("written", in: run.stderr) == 0)
        #expect(summaryValue("dropped by writer", in: run.stderr) == received)
        #expect(run.stderr.contains("received = written + filtered out + dropped by writer"))
        // Each port's frames: handed to the writer (then lost with the file) or dropped before it.
        var accounted: UInt64 = 0
        for spec in specs {
            let port = portCounters(spec, in: run.stderr)
            #expect(port["written"] == nil && port["handed to the writer"] != nil, "\(run.stderr)")
            #expect(port["received"] == (port["handed to the writer"] ?? 0) + (port["dropped by writer"] ?? 0), "\(spec)")
            accounted += port["received"] ?? 0
        }
        #expect(accounted == received)
    }

    @Test("several ports into pcap, or one port given twice: refused with one sentence before anything is written")
    func refusals() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let a = "pcap:rx=" + samplePath("sizes.pcap"), b = "pcap:rx=" + samplePath("jumbo.pcap")
        let pcap = try runProcess(try vfpmdExecutable(), ["capture", "--port", a, "--port", b, "-w", dir + "/two.pcap"])
        #expect(pcap.status != 0 && pcap.stderr.split(separator: "\n").first
                == "error: 2 ports in one capture need pcapng (a file name ending in .pcapng, or --pcapng): a pcap file has one interface",
                "\(pcap.stderr)")
        let twice = try runProcess(try vfpmdExecutable(), ["capture", "--port", a, "--port", b, "--port", a, "-w", dir + "/twice.pcapng"])
        #expect(twice.status != 0 && twice.stderr.split(separator: "\n").first
                == "error: --port \(a) is given twice: each port is captured once (its queues have one owner); give it once",
                "\(twice.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).isEmpty)
    }
}
