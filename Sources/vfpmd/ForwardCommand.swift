import Apps
import ArgumentParser
import Foundation
import PMDCore
import VFDriver

/// `vfpmd forward`: forwards between ports in pairs, both directions, as testpmd's io mode,
/// DPDK's l2fwd or ixy-fwd do.
struct ForwardCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forward",
        abstract: "Forward packets between ports in pairs (0↔1, 2↔3, …), both directions.",
        discussion: """
            One polling thread per (pair, queue); no byte is copied. A table of rates goes to \
            standard error every second (--json: one JSON object per second on standard output, \
            and the summary as one last object). \
            Stops on SIGINT, --count, --duration, or when every input is a finite source that is \
            exhausted and everything in flight has left; then prints a summary, closes the ports \
            and checks that every buffer is back in its pool.

            --poll busy (the default) polls without pause. --poll adaptive polls while frames \
            come; once a lane holds nothing and found nothing for --poll-idle microseconds it \
            arms its queue's interrupt on both ports, looks at both rings once more and sleeps \
            until a frame, a message of a PF or a stop wakes it (100 ms at most). --poll \
            interrupt sleeps after every empty poll. A lane with a pcap port polls busily \
            (--poll interrupt refuses it). The table, the summary and --json show each lane's \
            mode, time asleep and wake-ups.

            Example: vfpmd forward --port sim:ixgbevf,name=a,rx=pcaps/sizes.pcap \\
                       --port sim:ixgbevf,name=b,tx=out.pcap,spoofchk=off
            """
    )

    @OptionGroup var global: GlobalOptions

    @Option(name: .long, help: "A port (pci:ADDR..., sim:FAMILY..., pcap:rx=FILE,tx=FILE); give it once per port.")
    var port: [String] = []

    @Option(name: .long, help: "io (touch no byte), macswap (swap addresses), mac (source = output port, destination = its peer).")
    var mode: ForwardMode = .io

    @Option(name: .long, help: "Peer MAC per port, in port order (mode mac).")
    var peerMac: [String] = []

    @Option(name: .long, help: "Port pairs, e.g. 0:1,2:3 (default: consecutive ports).")
    var pairs: String?

    @Option(name: .long, parsing: .unconditional, help: "Queues per port to use (default: all the ports have).")
    var queues: Int?

    @Option(name: .long, help: "CPUs for the polling threads, e.g. 2,3 or 2-5.")
    var cores: String?

    @Option(name: .long, parsing: .unconditional, help: "Packets per burst, 1...64.")
    var burst: Int = 32

    @Option(name: .long, parsing: .unconditional, help: "Stop after forwarding this many packets.")
    var count: UInt64?

    @Option(name: .long, parsing: .unconditional, help: "Stop after this many seconds.")
    var duration: Double?

    @Flag(name: .long, help: "One JSON object per second on standard output.")
    var json = false

    @OptionGroup var pollingOptions: PollingOptions

    @OptionGroup var metricsOption: MetricsOption
    @OptionGroup var noIOMMUOption: NoIOMMUOption

    // MARK: Mirrors

    @Option(name: .long, help: ArgumentHelp(
        "Copy a port's frames to a pcapng file: PORT[:rx|:tx|:both]=FILE.pcapng[,filter=BPF][,snaplen=N]; PORT is its number or name=.",
        valueName: "mirror"))
    var mirror: [String] = []

    /// The mirrors asked for, parsed and their filters compiled.
    func mirrorSpecs() throws -> [MirrorSpec] {
        do { return try mirror.map { text throws(MirrorSpecError) in try MirrorSpec(parsing: text) } } catch {
            throw ValidationError(error.description)
        }
    }

    /// Opens the file of every mirror for its port among `ports` (before any is started).
    func openMirrors(_ specs: [MirrorSpec], ports: [OpenedPort]) throws -> [ForwardMirror] {
        let names = port.map { (try? PortSpec(parsing: $0))?.portName }
        return try specs.map { spec in
            let index: Int
            do { index = try spec.portIndex(names: names) } catch { throw CommandFailure("\(error)") }
            do {
                return try ForwardMirror(spec: spec, portIndex: index, port: ports[index], application: "vfpmd \(VersionCommand.version)")
            } catch {
                throw CommandFailure("--mirror \(spec.text): \(error)")
            }
        }
    }

    /// The error of the first mirror whose file could not be written.
    static func mirrorFailure(_ mirrors: [MirrorTotals]) -> String? {
        mirrors.first { $0.failure != nil }.map { "--mirror \($0.file): \($0.failure!); the forward went on, the mirror's later frames are not in the file" }
    }

    func validate() throws {
        guard port.count >= 2 else { throw ValidationError("give at least two --port options") }
        guard (1...PacketBatch.capacity).contains(burst) else { throw ValidationError("--burst must be 1...\(PacketBatch.capacity)") }
        try OptionRanges.whole(queues, in: 1...VFPortConfiguration.maxQueues, option: "--queues")
        try OptionRanges.whole(count, in: 1...UInt64.max, option: "--count")
        try OptionRanges.seconds(duration, option: "--duration")
        _ = try pollingOptions.policy(defaultMode: .busy)
        let specs = try mirrorSpecs()
        let names = port.map { (try? PortSpec(parsing: $0))?.portName }
        for spec in specs {
            do { _ = try spec.portIndex(names: names) } catch { throw ValidationError(error.description) }
        }
        if json, specs.contains(where: { $0.path == "-" }) {
            throw ValidationError("--json and --mirror ...=- would both write to standard output: give the mirror a file or a FIFO")
        }
    }

    func run() throws {
        global.bootstrapLogging()
        var config = ForwardConfiguration()
        config.mode = mode
        config.queues = queues
        config.burst = burst
        config.packetLimit = count
        config.duration = duration
        config.polling = try pollingOptions.policy(defaultMode: .busy)
        config.peerMACs = try peerMac.map { text in
            guard let mac = MACAddress(text) else { throw CommandFailure("--peer-mac \(text) is not a MAC address (aa:bb:cc:dd:ee:ff)") }
            return mac
        }
        if let pairs { config.pairs = try Self.parsePairs(pairs) }
        if let cores { config.cores = try parseCPUList(cores, option: "--cores") }

        let metrics = try metricsOption.start()
        defer { metrics?.server.stop() }
        let specs = try mirrorSpecs()
        let ports = try openPorts(port, polling: config.polling, noIOMMU: noIOMMUOption.noIOMMU)
        defer { _ = OpenedPort.closeAll(ports) }
        let mirrors = try openMirrors(specs, ports: ports)

        let forwarder: Forwarder
        do { forwarder = try Forwarder(ports: ports, configuration: config, mirrors: mirrors) } catch { throw CommandFailure(error.description) }
        for p in ports {
            do { try p.port.start() } catch { throw CommandFailure(p.sentence(for: error)) }
        }
        metrics?.publish(ports)
        StopSignal.install()
        let summary = forwarder.run { interval in
            metrics?.publish(ports, lanes: interval.lanes)
            let report = ForwardReport(interval)
            if json { print(report.json); fflush(nil) }
            printToStandardError(report.table, terminator: "")
        }
        metrics?.publish(ports, lanes: summary.lanes)
        if json { print(summary.json(names: ports.map(\.spec))) }
        let text = summary.text(names: ports.map(\.spec))
        let gone = ports.filter(\.isRemoved).map(\.spec).joined(separator: ", ")
        let problems = OpenedPort.closeAll(ports)
        if !problems.isEmpty { throw CommandFailure(problems.joined(separator: "; "), then: text) }
        // A capture that turned out malformed part-way, an output that could not be written:
        // the run failed, whatever was forwarded.
        for p in ports {
            if case .failed(let reason) = p.condition { throw CommandFailure("\(p.spec): \(reason)", then: text) }
        }
        if let failure = Self.mirrorFailure(summary.mirrors) { throw CommandFailure(failure, then: text) }
        if summary.reason == .portRemoved {
            throw CommandFailure("\(gone): the device was removed (surprise removal or unbind); check the PCI device and rebind it", then: text)
        }
        printToStandardError(text)
    }

    /// Parses `0:1,2:3`.
    static func parsePairs(_ text: String) throws -> [(Int, Int)] {
        try text.split(separator: ",").map { item in
            let parts = item.split(separator: ":")
            guard parts.count == 2, let a = Int(parts[0]), let b = Int(parts[1]) else {
                throw CommandFailure("--pairs \(text): each pair is two port numbers like 0:1, separated by commas")
            }
            return (a, b)
        }
    }
}

extension ForwardMode: ExpressibleByArgument {}

/// Parses a CPU list such as `2,3` or `0-3,6`.
func parseCPUList(_ text: String, option: String) throws -> [Int] {
    var cpus: [Int] = []
    for item in text.split(separator: ",") {
        let bounds = item.split(separator: "-")
        let last = OptionRanges.cpuCount - 1
        if bounds.count == 1, let c = Int(bounds[0]), (0...last).contains(c) {
            cpus.append(c)
        } else if bounds.count == 2, let lo = Int(bounds[0]), let hi = Int(bounds[1]), 0 <= lo, lo <= hi, hi <= last {
            cpus += Array(lo...hi)
        } else {
            throw CommandFailure("\(option) \(text): give CPU numbers from 0 to \(last) like 2,3 or 0-3")
        }
    }
    guard !cpus.isEmpty else {
        throw CommandFailure("\(option) \"\(text)\": give at least one CPU number from 0 to \(OptionRanges.cpuCount - 1), like 2,3 or 0-3")
    }
    return cpus
}
