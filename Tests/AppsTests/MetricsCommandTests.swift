import Foundation
import PcapIO
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// `--metrics` of forward, capture and bench, as a Prometheus server sees it: the built
/// executable on simulated VFs, scraped with curl while it runs, each scrape checked by
/// promtool, the counters compared with the run's own summary.
@Suite("vfpmd --metrics (the executable)", .serialized)
struct MetricsCommandTests {
    /// A socket listening on 127.0.0.1 at a port the kernel picked, and that port.
    static func listeningSocket() throws -> (fd: Int32, port: UInt16) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length) == 0 && listen(fd, 1) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard fd >= 0, bound else { close(fd); throw TestFailure("cannot listen on 127.0.0.1") }
        return (fd, UInt16(bigEndian: address.sin_port))
    }

    /// A port on 127.0.0.1 that nothing listens on now.
    static func freePort() throws -> UInt16 {
        let (fd, port) = try listeningSocket()
        close(fd)
        return port
    }

    /// Starts `vfpmd arguments`; standard output collected in a pipe, standard error in a file.
    static func start(_ arguments: [String], stderrPath: String) throws -> (Process, Pipe) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try vfpmdExecutable())
        process.arguments = arguments
        _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderrPath))
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        return (process, out)
    }

    /// Scrapes `/metrics` with curl until `accept` takes the exposition (at most `seconds`);
    /// each exposition taken is checked by `promtool check metrics`.
    static func scrape(port: UInt16, within seconds: Double = 15, until accept: (String) -> Bool) throws -> String {
        let end = Date().addingTimeInterval(seconds)
        var last = ""
        while Date() < end {
            let curl = try runProcess("/usr/bin/curl", ["-sS", "--fail", "--max-time", "5", "http://127.0.0.1:\(port)/metrics"])
            if curl.status == 0 {
                last = curl.stdout
                if accept(last) {
                    try check(last)
                    return last
                }
            }
            usleep(100_000)
        }
        throw TestFailure("no scrape of port \(port) was as expected within \(seconds) s; the last:\n\(last)")
    }

    /// `promtool check metrics` on `exposition`: well-formed, and as Prometheus's conventions want.
    static func check(_ exposition: String) throws {
        let promtool = try promtool(exposition)
        #expect(promtool.status == 0, "promtool: \(promtool.stdout)\(promtool.stderr)\n\(exposition)")
    }

    /// What `promtool check metrics` says of `exposition`.
    static func promtool(_ exposition: String) throws -> ProcessResult {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        try exposition.write(toFile: dir + "/metrics.txt", atomically: true, encoding: .utf8)
        return try runProcess("/bin/sh", ["-c", "promtool check metrics < '\(dir)/metrics.txt'"])
    }

    /// The value of the series `name` whose labels include `labels`; nil when none.
    static func value(_ exposition: String, _ name: String, _ labels: [String: String] = [:]) -> Double? {
        for line in exposition.split(separator: "\n") where line.hasPrefix(name + "{") || line.hasPrefix(name + " ") {
            let parts = line.split(separator: " ")
            guard labels.allSatisfy({ line.contains("\($0.key)=\"\($0.value)\"") }), let v = parts.last else { continue }
            return Double(v)
        }
        return nil
    }

    /// Sends `signal` and waits for the exit; returns the status and what went to standard output.
    static func interrupt(_ process: Process, _ out: Pipe, with signal: Int32 = SIGINT) -> (Int32, String) {
        kill(process.processIdentifier, signal)
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, text)
    }

    @Test("forward with a mirror: scrapes while it runs, promtool-clean, the counters equal the summary's, the mirror holds what was sent")
    func forward() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let port = try Self.freePort()
        // Port 0 is fed the 256 frames of the file once, forwarded to port 1; ports 2 and 3 are
        // cabled to each other with nothing on the wire, so the forwarder keeps running (and
        // serving) once the 256 frames went through.
        let (process, out) = try Self.start(
            ["forward", "--json", "--duration", "30", "--metrics", "127.0.0.1:\(port)", "--poll", "adaptive",
             "--port", "sim:ixgbevf,name=a,rx=\(samplePath("udp64x256.pcap")),mac=02:00:00:00:00:02",
             "--port", "sim:ixgbevf,name=b,tx=\(dir)/out.pcap,spoofchk=off",
             "--port", "sim:ixgbevf,name=c,link=d", "--port", "sim:ixgbevf,name=d,link=c",
             "--mirror", "1:tx=\(dir)/sent.pcapng,filter=udp"], stderrPath: dir + "/stderr")
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        let first = try Self.scrape(port: port) { Self.value($0, "vfpmd_port_rx_packets_total", ["port": "0"]) != nil }
        let spec0 = "sim:ixgbevf,name=a,rx=\(samplePath("udp64x256.pcap")),mac=02:00:00:00:00:02"
        #expect(first.contains(#"vfpmd_port_rx_packets_total{port="0",spec="\#(spec0)",family="ixgbevf"}"#), "\(first)")
        for name in ["vfpmd_port_rx_bytes_total", "vfpmd_port_tx_packets_total", "vfpmd_port_tx_bytes_total",
                     "vfpmd_port_rx_missed_total", "vfpmd_port_rx_no_buffer_total", "vfpmd_port_dropped_total",
                     "vfpmd_port_resets_total", "vfpmd_port_link_up", "vfpmd_port_link_speed_bytes_per_second",
                     "vfpmd_queue_rx_packets_total", "vfpmd_queue_tx_packets_total"] {
            #expect(first.contains("# HELP \(name) "), "\(name)")
            #expect(first.contains("# TYPE \(name) "), "\(name)")
        }
        #expect(Self.value(first, "vfpmd_port_link_up", ["port": "1"]) == 1)
        #expect(Self.value(first, "vfpmd_port_link_speed_bytes_per_second", ["port": "1"]) == 10e9 / 8)
        // Once the per-second report read the ports after all 256 frames went through.
        let second = try Self.scrape(port: port) {
            Self.value($0, "vfpmd_port_tx_packets_total", ["port": "1"]) == 256
                && (Self.value($0, "vfpmd_lane_asleep_seconds_total", ["pair": "2:3"]) ?? 0) > 0
        }
        #expect(Self.value(second, "vfpmd_port_rx_packets_total", ["port": "0"])! >= Self.value(first, "vfpmd_port_rx_packets_total", ["port": "0"])!)
        #expect(Self.value(second, "vfpmd_queue_rx_packets_total", ["port": "0", "queue": "0"]) == 256)
        #expect(Self.value(second, "vfpmd_port_dropped_total", ["port": "1", "reason": "tx_discarded"]) == 0)

        let (status, stdout) = Self.interrupt(process, out)
        let stderr = (try? String(contentsOfFile: dir + "/stderr", encoding: .utf8)) ?? ""
        #expect(status == 0, "\(stderr)")
        #expect(!stderr.contains("error:"), "\(stderr)")
        let last = stdout.split(separator: "\n").last.map(String.init) ?? ""
        let summary = try JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any]
        let ports = summary?["ports"] as? [[String: Any]] ?? []
        let lanes = summary?["lanes"] as? [[String: Any]] ?? []
        try #require(ports.count == 4 && lanes.count == 2, "\(last)")
        func number(_ object: [String: Any], _ key: String) -> Double? { (object[key] as? NSNumber)?.doubleValue }
        #expect(number(ports[0], "received") == 256)
        for i in 0..<4 {
            let p = ["port": String(i)]
            #expect(Self.value(second, "vfpmd_port_rx_packets_total", p) == number(ports[i], "received"))
            #expect(Self.value(second, "vfpmd_port_tx_packets_total", p) == number(ports[i], "sent"))
            #expect(Self.value(second, "vfpmd_port_rx_missed_total", p) == number(ports[i], "missed"))
            #expect(Self.value(second, "vfpmd_port_rx_no_buffer_total", p) == number(ports[i], "no_buffer"))
            #expect(Self.value(second, "vfpmd_port_resets_total", p) == number(ports[i], "resets"))
        }
        for lane in lanes {
            let labels = ["pair": lane["pair"] as? String ?? "", "queue": "\(lane["queue"] ?? "")"]
            #expect(Self.value(second, "vfpmd_lane_parks_total", labels) == number(lane, "parks"))
            // The idle lanes sleep: what the scrape showed is what the summary says, or less.
            #expect(lane["polling"] as? String == "adaptive")
            let asleep = Self.value(second, "vfpmd_lane_asleep_seconds_total", labels) ?? -1
            #expect(asleep >= 0 && asleep <= number(lane, "asleep_seconds") ?? -1, "\(lane)")
            let wakeUps = Self.value(second, "vfpmd_lane_wake_ups_total", labels) ?? -1
            #expect(wakeUps >= 0 && wakeUps <= number(lane, "wake_ups") ?? -1, "\(lane)")
        }
        // The endpoint closed with the run.
        #expect(try runProcess("/usr/bin/curl", ["-sS", "--max-time", "2", "http://127.0.0.1:\(port)/metrics"]).status != 0)
        // The mirror of port 1's transmit side holds exactly what it sent, as tshark reads it.
        let sent = try PcapReader(path: dir + "/out.pcap").readAll().map(\.bytes)
        #expect(sent.count == 256)
        #expect(try PcapReader(path: dir + "/sent.pcapng").readAll().map(\.bytes) == sent)
        let tshark = try runProcess("/usr/bin/tshark", ["-r", dir + "/sent.pcapng", "-T", "fields", "-e", "frame.interface_name"])
        #expect(tshark.status == 0 && tshark.stdout.split(separator: "\n").count == 256, "\(tshark.stderr)")
    }

    @Test("forward --count and capture -c with --metrics stop by themselves, exit 0, and close the endpoint")
    func stopsByCount() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let input = "sim:ixgbevf,rx=\(samplePath("udp64x256.pcap")),loop=0,mac=02:00:00:00:00:02"
        for arguments in [["forward", "--count", "1000", "--port", input, "--port", "sim:ixgbevf,spoofchk=off"],
                          ["capture", "-c", "1000", "--port", input, "-w", dir + "/out.pcap"]] {
            let port = try Self.freePort()
            let result = try runProcess(try vfpmdExecutable(), arguments + ["--duration", "30", "--metrics", "127.0.0.1:\(port)"])
            #expect(result.status == 0, "\(arguments): \(result.stderr)")
            #expect(!result.stderr.contains("error:"), "\(result.stderr)")
            #expect(try runProcess("/usr/bin/curl", ["-sS", "--max-time", "2", "http://127.0.0.1:\(port)/metrics"]).status != 0)
        }
    }

    @Test("capture: a scrape while it runs shows the capture's counters and its port's; SIGTERM ends it with 0")
    func capture() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let port = try Self.freePort()
        let (process, out) = try Self.start(
            ["capture", "--duration", "30", "--metrics", String(port), "-w", dir + "/out.pcap",
             "--port", "sim:ixgbevf,rx=\(samplePath("udp64x256.pcap")),loop=0,mac=02:00:00:00:00:02"], stderrPath: dir + "/stderr")
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        let scrape = try Self.scrape(port: port) {
            (Self.value($0, "vfpmd_capture_written_total") ?? 0) > 0 && (Self.value($0, "vfpmd_port_rx_packets_total") ?? 0) > 0
        }
        #expect(Self.value(scrape, "vfpmd_capture_received_total")! >= Self.value(scrape, "vfpmd_capture_written_total")!)
        let portLabels = ["port": "0", "family": "ixgbevf"]
        #expect(Self.value(scrape, "vfpmd_port_link_up", portLabels) == 1)
        #expect(Self.value(scrape, "vfpmd_port_rx_no_buffer_total", portLabels) != nil)
        #expect(Self.value(scrape, "vfpmd_queue_rx_packets_total", ["queue": "0"]) != nil, "\(scrape)")
        #expect(Self.value(scrape, "vfpmd_capture_dropped_total", ["reason": "writer"]) == 0)
        #expect(scrape.contains("# TYPE vfpmd_capture_filtered_out_total counter"))
        let (status, _) = Self.interrupt(process, out, with: SIGTERM)
        #expect(status == 0, "\((try? String(contentsOfFile: dir + "/stderr", encoding: .utf8)) ?? "")")
    }

    @Test("bench on IPv6 loopback: a scrape while it runs shows what the ports sent and received; SIGHUP ends it with 0")
    func bench() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let port = try Self.freePort()
        let (process, out) = try Self.start(
            ["bench", "--duration", "30", "--mode", "loop", "--rate", "100000", "--metrics", "[::1]:\(port)", "--poll", "adaptive",
             "--port", "sim:ixgbevf,name=a,link=b", "--port", "sim:ixgbevf,name=b,link=a"], stderrPath: dir + "/stderr")
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        let end = Date().addingTimeInterval(15)
        var scrape = ""
        while Date() < end {
            let curl = try runProcess("/usr/bin/curl", ["-sS", "--fail", "--max-time", "5", "http://[::1]:\(port)/metrics"])
            scrape = curl.stdout
            if (Self.value(scrape, "vfpmd_port_rx_packets_total", ["port": "1"]) ?? 0) > 0 { break }
            usleep(100_000)
        }
        try Self.check(scrape)
        #expect((Self.value(scrape, "vfpmd_port_tx_packets_total", ["port": "0"]) ?? 0) > 0, "\(scrape)")
        #expect((Self.value(scrape, "vfpmd_port_rx_packets_total", ["port": "1"]) ?? 0) > 0, "\(scrape)")
        // The measuring thread of port 1's queue polls adaptively: its sleeps are exported.
        #expect(Self.value(scrape, "vfpmd_queue_asleep_seconds_total", ["port": "1", "queue": "0"]) != nil, "\(scrape)")
        #expect(Self.value(scrape, "vfpmd_queue_wake_ups_total", ["port": "1", "queue": "0"]) != nil, "\(scrape)")
        let (status, _) = Self.interrupt(process, out, with: SIGHUP)
        #expect(status == 0, "\((try? String(contentsOfFile: dir + "/stderr", encoding: .utf8)) ?? "")")
    }

    @Test("a port in use: one error sentence, exit 1, before any device is opened")
    func portInUse() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let (fd, port) = try Self.listeningSocket()
        defer { close(fd) }
        let result = try runProcess(try vfpmdExecutable(), [
            "forward", "--metrics", "127.0.0.1:\(port)",
            "--port", "sim:ixgbevf,name=a,rx=\(samplePath("udp64x256.pcap"))", "--port", "sim:ixgbevf,name=b,tx=\(dir)/out.pcap"])
        #expect(result.status == 1)
        #expect(result.stderr == "error: --metrics 127.0.0.1:\(port): cannot listen there: the port is in use (Address already in use); pick another port, or stop what listens on it\n")
        // The simulated VF's output file is made when the port opens: it was never opened.
        #expect(!FileManager.default.fileExists(atPath: dir + "/out.pcap"))
    }

    @Test("an address that is not this host's: one error sentence that says so, exit 1")
    func foreignAddress() throws {
        // 192.0.2.1 is a documentation address (RFC 5737): no host here has it; binding sends nothing.
        let result = try runProcess(try vfpmdExecutable(), [
            "capture", "--metrics", "192.0.2.1:9469", "--port", "pcap:rx=\(samplePath("sizes.pcap"))", "-w", "/dev/null"])
        #expect(result.status == 1)
        #expect(result.stderr == "error: --metrics 192.0.2.1:9469: cannot listen there: Cannot assign requested address; give an address of this host, such as 127.0.0.1, 0.0.0.0 or [::1]\n")
    }

    @Test("an address that does not parse or a port out of range: one error line, exit 64, for every command",
          arguments: ["0", "65536", "-1", "1e300", "inf", "localhost", "1.2.3.4.5:80", "[::1]"])
    func badAddress(value: String) throws {
        for command in [["forward", "--port", "pcap:rx=\(samplePath("sizes.pcap"))", "--port", "pcap:tx=/dev/null"],
                        ["capture", "--port", "pcap:rx=\(samplePath("sizes.pcap"))", "-w", "/dev/null"],
                        ["bench", "--port", "sim:ixgbevf"]] {
            let result = try runProcess(try vfpmdExecutable(), command + ["--metrics=\(value)"])
            #expect(result.status == 64, "\(command): \(result.stderr)")
            let errors = result.stderr.split(separator: "\n").filter { $0.hasPrefix("error: ") }
            #expect(errors.count == 1 && result.stderr.hasPrefix("error: --metrics \(value): "), "\(result.stderr)")
        }
    }
}
