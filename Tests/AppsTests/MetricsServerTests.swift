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

    @Test("GET /metrics serves the board's latest snapshot; another path is 404; stop closes every descriptor it opened")
    func servesAndStops() throws {
        let port = try MetricsCommandTests.freePort()
        let board = MetricsBoard(Self.snapshot(rxPackets: 5))
        let server = try MetricsServer(address: MetricsAddress(host: .ipv4("127.0.0.1"), port: port), board: board)
        let url = "http://127.0.0.1:\(port)"
        let first = try runProcess("/usr/bin/curl", ["-sS", "--fail", url + "/metrics"])
        #expect(first.stdout.contains(#"vfpmd_port_rx_packets_total{port="0",spec="pcap:rx=a \"b\".pcap",family="pcap"} 5"#), "\(first.stdout)")
        #expect(first.stdout.contains(#"vfpmd_port_dropped_total{port="0",spec="pcap:rx=a \"b\".pcap",family="pcap",reason="vlan"} 3"#))
        #expect(first.stdout.contains(#"vfpmd_port_dropped_total{port="0",spec="pcap:rx=a \"b\".pcap",family="pcap",reason="tx_discarded"} 2"#))
        #expect(first.stdout.contains(#"vfpmd_port_link_speed_bytes_per_second{port="0",spec="pcap:rx=a \"b\".pcap",family="pcap"} 125000000.0"#))
        try MetricsCommandTests.check(first.stdout)
        board.publish(Self.snapshot(rxPackets: 7))
        let second = try runProcess("/usr/bin/curl", ["-sS", "--fail", url + "/metrics"])
        #expect(second.stdout.contains(#"family="pcap"} 7"#))
        let other = try runProcess("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", url + "/"])
        #expect(other.stdout == "404")
        server.stop()
        // Closed: nothing answers, the port can be listened on again, no descriptor is left.
        #expect(try runProcess("/usr/bin/curl", ["-sS", "--max-time", "2", url + "/metrics"]).status != 0)
        // This process's sockets on the port, exactly: none once stopped.
        #expect(Self.socketsOpen(onPort: port) == 0)
        // The process's descriptors around 100 server lifetimes, each scraped from this process
        // (a child process's pipes would blur the count): other suites run beside this one and
        // open and close descriptors meanwhile, so the check is that the count did not grow by
        // anything near one per server (after a first one: the concurrency runtime's threads
        // open descriptors of their own the first time they are needed).
        func cycle() throws {
            let server = try MetricsServer(address: MetricsAddress(host: .ipv4("127.0.0.1"), port: port), board: board)
            #expect(try Self.get(port: port).hasPrefix("HTTP/1.1 200"))
            #expect(Self.socketsOpen(onPort: port) >= 1)
            server.stop()
            #expect(Self.socketsOpen(onPort: port) == 0)
        }
        try cycle()
        let before = Self.openDescriptors()
        for _ in 0..<100 { try cycle() }
        #expect(Self.openDescriptors() - before < 50, "\(before) descriptors before 100 servers, \(Self.openDescriptors()) after")
    }
}
