import Foundation
#if canImport(Glibc)
import Glibc
#endif
import PMDCore
import Testing
import TestSupport
@testable import Apps

/// The metrics endpoint in this process: what it serves, and what it leaves behind when stopped.
@Suite("metrics endpoint", .serialized)
struct MetricsServerTests {
    /// Descriptors this process has open.
    static func openDescriptors() -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? -1
    }

    /// `GET /metrics` over a socket of this process; the start of the answer.
    static func get(port: UInt16) throws -> String {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = port.bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        guard connected else { throw TestFailure("cannot connect to 127.0.0.1:\(port)") }
        let request = Array("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".utf8)
        guard send(fd, request, request.count, Int32(MSG_NOSIGNAL)) == request.count else { throw TestFailure("cannot send") }
        var buffer = [UInt8](repeating: 0, count: 64)
        let n = recv(fd, &buffer, buffer.count, 0)
        return String(decoding: buffer.prefix(max(n, 0)), as: UTF8.self)
    }

    /// Descriptors of this process that are TCP sockets bound to `port` on either side
    /// (`/proc/net/tcp` and `tcp6` give each socket's inode).
    static func socketsOpen(onPort port: UInt16) -> Int {
        let hexPort = String(format: "%04X", port)
        var inodes = Set<String>()
        for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
            let text = (try? String(contentsOfFile: table, encoding: .utf8)) ?? ""
            for line in text.split(separator: "\n").dropFirst() {
                let fields = line.split(separator: " ")
                guard fields.count > 9 else { continue }
                if fields[1].hasSuffix(":" + hexPort) || fields[2].hasSuffix(":" + hexPort) { inodes.insert(String(fields[9])) }
            }
        }
        let descriptors = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        return descriptors.filter { fd in
            guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/" + fd),
                  target.hasPrefix("socket:[") else { return false }
            return inodes.contains(String(target.dropFirst(8).dropLast()))
        }.count
    }

    /// A snapshot of one pcap port with known counters.
    static func snapshot(rxPackets: UInt64) -> MetricsSnapshot {
        var stats = PortStats()
        stats.rxPackets = rxPackets
        stats.filterDrops.vlan = 3
        stats.txDiscarded = 2
        let port = PortMetrics(spec: #"pcap:rx=a "b".pcap"#, family: "pcap", stats: stats,
                               link: LinkStatus(isUp: true, speedMbps: 1000), queues: [])
        return MetricsSnapshot(ports: [port])
    }

    /// Stops the exercise with `message` on standard error when `condition` is false.
    static func require(_ condition: Bool, _ message: @autoclosure () -> String) throws {
        guard condition else {
            FileHandle.standardError.write(Data((message() + "\n").utf8))
            throw TestFailure(message())
        }
    }

    /// Serves, scrapes and stops servers, failing at the first thing that is not as it should be.
    static func exercise() throws {
        let port = try MetricsCommandTests.freePort()
        let board = MetricsBoard(Self.snapshot(rxPackets: 5))
        let server = try MetricsServer(address: MetricsAddress(host: .ipv4("127.0.0.1"), port: port), board: board)
        let url = "http://127.0.0.1:\(port)"
        let first = try runProcess("/usr/bin/curl", ["-sS", "--fail", url + "/metrics"]).stdout
        for line in [#"vfpmd_port_rx_packets_total{port="0",spec="pcap:rx=a \"b\".pcap",family="pcap"} 5"#,
                     #"vfpmd_port_dropped_total{port="0",spec="pcap:rx=a \"b\".pcap",family="pcap",reason="vlan"} 3"#,
                     #"vfpmd_port_dropped_total{port="0",spec="pcap:rx=a \"b\".pcap",family="pcap",reason="tx_discarded"} 2"#,
                     #"vfpmd_port_link_speed_bytes_per_second{port="0",spec="pcap:rx=a \"b\".pcap",family="pcap"} 125000000.0"#] {
            try require(first.contains(line), "the exposition lacks \(line):\n\(first)")
        }
        let promtool = try MetricsCommandTests.promtool(first)
        try require(promtool.status == 0, "promtool: \(promtool.stdout)\(promtool.stderr)")
        board.publish(Self.snapshot(rxPackets: 7))
        let second = try runProcess("/usr/bin/curl", ["-sS", "--fail", url + "/metrics"]).stdout
        try require(second.contains(#"family="pcap"} 7"#), "the second scrape does not show the new snapshot:\n\(second)")
        let other = try runProcess("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", url + "/"])
        try require(other.stdout == "404", "GET / answered \(other.stdout)")
        server.stop()
        try require(try runProcess("/usr/bin/curl", ["-sS", "--max-time", "2", url + "/metrics"]).status != 0, "a stopped server answered")
        try require(Self.socketsOpen(onPort: port) == 0, "a socket on the port is still open after stop")
        // The descriptors around five server lifetimes, each scraped from this process (a
        // child process's pipes would blur the count), after a first one (the concurrency
        // runtime's threads open descriptors of their own the first time they are needed).
        func cycle() throws {
            let server = try MetricsServer(address: MetricsAddress(host: .ipv4("127.0.0.1"), port: port), board: board)
            try require(try Self.get(port: port).hasPrefix("HTTP/1.1 200"), "a scrape over a socket of this process failed")
            server.stop()
            try require(Self.socketsOpen(onPort: port) == 0, "a socket on the port is still open after stop")
        }
        try cycle()
        let before = Self.openDescriptors()
        for _ in 0..<5 { try cycle() }
        try require(Self.openDescriptors() == before, "\(before) descriptors before five servers, \(Self.openDescriptors()) after")
    }

    /// In a process of its own: the suites running beside it would both blur the descriptor
    /// count and hold the concurrency runtime's few threads (as many as CPUs) with their
    /// blocking work, which the server's tasks need to run.
    @Test("GET /metrics serves the board's latest snapshot; another path is 404; stop closes every descriptor it opened")
    func servesAndStops() async {
        let result = await #expect(processExitsWith: .success, observing: [\.standardErrorContent]) {
            try MetricsServerTests.exercise()
        }
        if let result, result.exitStatus != .exitCode(0) {
            Issue.record("\(String(decoding: result.standardErrorContent, as: UTF8.self))")
        }
    }
}
