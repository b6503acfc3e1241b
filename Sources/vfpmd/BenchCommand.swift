import Apps
import ArgumentParser
import Foundation
import PMDCore
import VFDriver

/// `vfpmd bench`: throughput and latency per VF, as testpmd's txonly/rxonly or a packet
/// generator do.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Send and/or measure traffic on ports: Mpps, Gbps (layer 2 and 1), loss, reordering, latency.",
        discussion: """
            Modes: tx (every port sends), rx (every port measures), rxtx (both on every port), \
            loop (the first port sends, the last measures; one port: it sends and measures itself). \
            Frames are UDP/IPv4 with a sequence number and the send time in the payload, one UDP \
            source port per flow so that RSS spreads them.

            Each port queue that sends or measures has a thread; --cores gives them CPUs in \
            turn, and those given the same CPU share one thread. With simulated ports the model \
            runs in a thread of its own and the summary says how busy it was (near 100%: the \
            model set the pace); on a small machine --cores 0,0 runs both ports of loop in one \
            thread beside it.

            --poll adaptive or interrupt lets a thread that only measures (rx mode, the last \
            port of loop) sleep on its queue's interrupt when no frame comes (after --poll-idle \
            microseconds, or at once); sending threads stay busy. busy is the default. Each \
            port's line shows its threads' mode, time asleep and wake-ups.

            Example: vfpmd bench --port sim:ixgbevf,name=a,link=b --port sim:ixgbevf,name=b,link=a \\
                       --mode loop --size 64 --duration 5 --latency --cores 0,0
            """
    )

    @OptionGroup var global: GlobalOptions

    @Option(name: .long, help: "A port spec; give it once per port.")
    var port: [String] = []

    @Option(name: .long, help: "tx, rx, rxtx or loop.")
    var mode: BenchConfiguration.Mode = .rxtx

    @Option(name: .long, parsing: .unconditional, help: "Frame size in bytes with FCS (64...9018), or imix (7×64, 4×570, 1×1518).")
    var size: String = "64"

    @Option(name: .long, parsing: .unconditional, help: "Send rate per port: packets per second (1000000 or 1M), bits per second (5Gbps), or a share of the link (50%).")
    var rate: String?

    @Option(name: .long, parsing: .unconditional, help: "Flows (UDP source ports) per sending port.")
    var flows: Int = 1

    @Option(name: .long, parsing: .unconditional, help: "Queues per port (default: all the port has).")
    var queues: Int?

    @Option(name: .long, help: "CPUs for the polling threads, e.g. 2,3 or 2-5: each port queue takes the next; queues given the same CPU share one thread.")
    var cores: String?

    @Option(name: .long, parsing: .unconditional, help: "Seconds to run.")
    var duration: Double = 10

    @Flag(name: .long, help: "Measure one-way latency from the send time in each frame.")
    var latency = false

    @Option(name: .long, help: "Destination MAC of frames sent from each port, in port order (default broadcast).")
    var destination: [String] = []

    @Flag(name: .long, help: "JSON objects on standard output (one per second, then the summary).")
    var json = false

    @OptionGroup var pollingOptions: PollingOptions

    @OptionGroup var metricsOption: MetricsOption
    @OptionGroup var noIOMMUOption: NoIOMMUOption

    func validate() throws {
        guard !port.isEmpty else { throw ValidationError("give at least one --port") }
        guard flows >= 1 && flows <= 65_536 else { throw ValidationError("--flows must be 1...65536") }
        try OptionRanges.seconds(duration, option: "--duration")
        try OptionRanges.whole(queues, in: 1...VFPortConfiguration.maxQueues, option: "--queues")
        _ = try pollingOptions.policy(defaultMode: .busy)
    }

    func run() throws {
        global.bootstrapLogging()
        var config = BenchConfiguration()
        config.mode = mode
        config.sizes = try Self.parseSizes(size)
        config.flows = flows
        config.queues = queues
        config.duration = duration
        config.latency = latency
        config.polling = try pollingOptions.policy(defaultMode: .busy)
        if let cores { config.cores = try parseCPUList(cores, option: "--cores") }
        config.destinations = try destination.map { text in
            guard let mac = MACAddress(text) else { throw CommandFailure("--destination \(text) is not a MAC address") }
            return mac
        }
        let metrics = try metricsOption.start()
        defer { metrics?.server.stop() }
        let ports = try openPorts(port, polling: config.polling, noIOMMU: noIOMMUOption.noIOMMU)
        defer { _ = OpenedPort.closeAll(ports) }
        for p in ports {
            do { try p.port.start() } catch { throw CommandFailure(p.sentence(for: error)) }
        }
        if let rate {
            let speeds = ports.map { $0.port.link.speedMbps }
            config.packetsPerSecond = try Self.parseRate(rate, sizes: config.sizes, linkMbps: speeds.max() ?? 0)
        }
        let bench: Bench
        do { bench = try Bench(ports: ports, configuration: config) } catch { throw CommandFailure("\(error)") }
        metrics?.publish(ports)
        StopSignal.install()
        let summary = bench.run { report in
            metrics?.publish(ports, bench: report)
            if json { print(report.json); fflush(nil) }
            printToStandardError(report.table, terminator: "")
        }
        metrics?.publish(ports, bench: summary)
        if json { print(summary.json) }
        let problems = OpenedPort.closeAll(ports)
        if !problems.isEmpty { throw CommandFailure(problems.joined(separator: "; "), then: summary.table) }
        for p in ports {
            if case .failed(let reason) = p.condition { throw CommandFailure("\(p.spec): \(reason)", then: summary.table) }
        }
        printToStandardError(summary.table, terminator: "")
    }

    /// `64`, `1518`, `imix`.
    static func parseSizes(_ text: String) throws -> [Int] {
        if text.lowercased() == "imix" { return BenchFrame.imix }
        guard let n = Int(text), (BenchFrame.minimumSize...9018).contains(n) else {
            throw CommandFailure("--size \(text): give a frame size from 64 to 9018 bytes, or imix")
        }
        return [n]
    }

    /// Packets per second from `1000000`, `1.5M`, `5Gbps`, `50%`.
    static func parseRate(_ text: String, sizes: [Int], linkMbps: Int) throws -> Double {
        let t = text.lowercased()
        let meanWireBits = Double(sizes.reduce(0, +)) / Double(sizes.count) * 8 + Double(BenchFrame.layer1Overhead * 8)
        func number(_ s: Substring) -> Double? {
            if s.hasSuffix("k") { return Double(s.dropLast()).map { $0 * 1e3 } }
            if s.hasSuffix("m") { return Double(s.dropLast()).map { $0 * 1e6 } }
            return Double(s)
        }
        var pps: Double?
        if t.hasSuffix("%") {
            guard linkMbps > 0 else { throw CommandFailure("--rate \(text): the link speed is unknown, give packets or bits per second") }
            pps = Double(t.dropLast()).map { $0 / 100 * Double(linkMbps) * 1e6 / meanWireBits }
        } else if t.hasSuffix("gbps") {
            pps = Double(t.dropLast(4)).map { $0 * 1e9 / meanWireBits }
        } else if t.hasSuffix("mbps") {
            pps = Double(t.dropLast(4)).map { $0 * 1e6 / meanWireBits }
        } else {
            pps = number(Substring(t))
        }
        if let pps, pps.isFinite, pps > OptionRanges.maxPacketsPerSecond {
            throw CommandFailure("--rate \(text): at most \(Int(OptionRanges.maxPacketsPerSecond)) packets per second")
        }
        if t.hasSuffix("%"), let share = Double(t.dropLast()), !(share > 0 && share <= 100) {
            throw CommandFailure("--rate \(text): a share of the link is more than 0% and at most 100%")
        }
        guard let pps, pps.isFinite, pps > 0 else {
            throw CommandFailure("--rate \(text): give packets per second (1000000, 1.5M), bits per second (5Gbps, 100Mbps) or a share of the link (50%)")
        }
        return pps
    }
}

extension BenchConfiguration.Mode: ExpressibleByArgument {}
