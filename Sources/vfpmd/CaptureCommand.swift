import Apps
import ArgumentParser
import PMDCore
import PcapIO

/// `vfpmd capture`: writes what ports receive to pcap or pcapng files, as tcpdump and dumpcap do for netdevs.
struct CaptureCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "capture",
        abstract: "Capture what ports receive (all RX queues) to pcap or pcapng files.",
        discussion: """
            Live counters go to standard error every second; the capture stops at -c, --duration, \
            SIGINT, SIGTERM or SIGHUP, or when its finite sources (pcap ports, simulated VFs fed from \
            a file without loop) are exhausted, then flushes, closes and prints a summary in which \
            every received frame is written, filtered out or counted as dropped.

            One thread receives (filter, snap length, a copy into a ring of buffers), another writes \
            the files: the receive side never waits on the disk. When the writer falls behind and \
            the ring is full, the frames that do not fit are counted as dropped by the writer \
            (pcap ports, being files, wait for the writer instead).

            A file name ending in .pcapng (or --pcapng) writes pcapng: each port as an interface \
            (name, description, filter), an Enhanced Packet Block per frame naming its interface, \
            and each port's counters in an Interface Statistics Block at the end of each file. \
            --port given several times captures all the ports into one pcapng capture, frames in \
            timestamp order (as dumpcap -i A -i B). -w - streams to standard output, written out \
            whenever the writer has caught up (for a reader that shows packets live).

            --poll adaptive (the default) polls while frames come; once no queue of any port \
            had a frame for --poll-idle microseconds it arms the queues' interrupts, looks at \
            every ring once more and sleeps until a frame, a message of the PF, a stop signal or \
            the next report wakes it: an idle capture costs almost no CPU, and the first frame after a sleep \
            waits for an interrupt and a thread wake-up. pcap ports cannot interrupt: with \
            one among the ports, adaptive polls busily (--poll interrupt refuses it). --poll busy \
            never sleeps. The live line and the summary show each port's mode, time asleep and \
            wake-ups.

            Examples:
              vfpmd capture --port pcap:rx=pcaps/protocols.pcap -w out.pcap 'udp and not vlan'
              vfpmd capture --port 0000:03:10.0 --port 0000:03:10.2 -w both.pcapng
              vfpmd capture --port 0000:03:10.0 --pcapng -w - | tshark -r -
            """
    )

    @OptionGroup var global: GlobalOptions

    @Option(name: .long, help: ArgumentHelp("A port to capture from (pci:ADDR..., sim:FAMILY..., pcap:rx=FILE...); give it again for more ports (pcapng only).", valueName: "spec"))
    var port: [String]

    @Option(name: .customShort("w"), help: ArgumentHelp("Output file; with -G an strftime pattern (tcpdump's naming).", valueName: "file"))
    var output: String

    @Option(name: .customShort("c"), parsing: .unconditional, help: ArgumentHelp("Stop after writing this many frames.", valueName: "count"))
    var count: UInt64?

    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("Stop after this many seconds.", valueName: "seconds"))
    var duration: Double?

    @Option(name: .customShort("s"), parsing: .unconditional, help: ArgumentHelp("Bytes kept of each frame (snap length); 0 keeps it whole, as 262144 does.", valueName: "snaplen"))
    var snapLength: Int = Self.largestSnapLength

    /// The largest snap length, and the one `-s 0` means (tcpdump's default).
    static let largestSnapLength = 262_144

    @Option(name: .customShort("C"), parsing: .unconditional, help: ArgumentHelp("Start a new file when the current one exceeds this many millions of bytes (file, file1, file2...).", valueName: "MB"))
    var fileSizeMB: Double?

    @Option(name: .customShort("G"), parsing: .unconditional, help: ArgumentHelp("Start a new file every this many seconds, named by the strftime pattern of -w.", valueName: "seconds"))
    var rotateSeconds: Int?

    @Flag(name: .long, help: "Microsecond timestamps (default: nanosecond).")
    var micro = false

    @Flag(name: .long, help: "Write pcapng (the default for a file name ending in .pcapng; pcap otherwise).")
    var pcapng = false

    @OptionGroup var pollingOptions: PollingOptions

    @OptionGroup var metricsOption: MetricsOption
    @OptionGroup var noIOMMUOption: NoIOMMUOption

    @Argument(help: ArgumentHelp("A tcpdump filter expression (pcap-filter(7)); frames it does not match are counted, not written.", valueName: "expression"))
    var expression: [String] = []

    func validate() throws {
        if let count, count == 0 { throw ValidationError("-c must be at least 1") }
        try OptionRanges.seconds(duration, option: "--duration")
        if !(0...Self.largestSnapLength).contains(snapLength) { throw ValidationError("-s must be from 1 to 262144 bytes, or 0 for the whole frame") }
        try OptionRanges.megabytes(fileSizeMB, option: "-C")
        try OptionRanges.whole(rotateSeconds, in: 1...OptionRanges.maxSecondsPerFile, option: "-G")
        _ = try polling()
        if port.isEmpty { throw ValidationError("give the port to capture from with --port") }
        if let twice = port.first(where: { spec in port.filter { $0 == spec }.count > 1 }) {
            throw ValidationError("--port \(twice) is given twice: each port is captured once (its queues have one owner); give it once")
        }
        if port.count > 1 && !writesPcapng {
            throw ValidationError(PcapError.severalPortsNeedPcapng(ports: port.count).description)
        }
    }

    /// The polling policy of --poll, --poll-idle and --moderation (adaptive by default).
    private func polling() throws -> PollingPolicy { try pollingOptions.policy(defaultMode: .adaptive) }

    /// Whether the capture is written as pcapng.
    private var writesPcapng: Bool { pcapng || CaptureFileFormat.forFileName(output) == .pcapng }

    func run() throws {
        global.bootstrapLogging()

        var options = CaptureOptions(output: output)
        options.count = count
        options.durationSeconds = duration
        options.snapLength = snapLength == 0 ? Self.largestSnapLength : snapLength
        options.precision = micro ? .microsecond : .nanosecond
        options.rotation = RotationPolicy(maxFileBytes: fileSizeMB.map { Int64($0 * 1_000_000) }, secondsPerFile: rotateSeconds)
        options.filter = expression.joined(separator: " ")
        options.polling = try polling()

        let metrics = try metricsOption.start()
        defer { metrics?.server.stop() }
        let opened = try openPorts(port, polling: options.polling, noIOMMU: noIOMMUOption.noIOMMU)
        defer { _ = OpenedPort.closeAll(opened) }
        if writesPcapng {
            options.pcapng = PcapngDescription(application: "vfpmd \(VersionCommand.version)",
                                               interfaces: opened.map { PcapngInterface(name: $0.spec, description: $0.kindDescription) })
        }
        let engine: CaptureEngine
        do { engine = try CaptureEngine(ports: opened.map(\.port), options: options) } catch { throw CommandFailure(error.description) }

        // Scrapes show the capture's counters and its ports' as of each report (each port's
        // statistics are read on a thread of the engine's, beside its bursts).
        metrics?.publish(opened, capture: CaptureCounters())
        StopSignal.install()
        var summary: CaptureSummary
        do {
            summary = try engine.run(shouldStop: { StopSignal.isRequested }, stopDescriptor: StopSignal.request.descriptor) { counters, elapsed, readings in
            metrics?.board.publish(MetricsSnapshot(ports: zip(opened, readings).map { PortMetrics($0, reading: $1) }, capture: counters))
            printToStandardError(CaptureEngine.progressLine(counters, elapsedSeconds: elapsed)
                + CaptureEngine.pollingText(engine.polling, portNames: opened.map(\.spec)))
            }
        } catch let refused as PollingOptionError {
            throw CommandFailure(refused.description)
        }
        summary.portNames = opened.map(\.spec)
        summary.polling = engine.polling
        summary.filterDrops = opened.map { $0.filterDropReport() }
        let problems = OpenedPort.closeAll(opened)
        var failure: String?
        if case .writeFailed(let error) = summary.reason { failure = error.description }
        for port in opened where failure == nil {
            if case .failed(let reason) = port.condition { failure = reason }
        }
        if failure == nil, summary.reason == .portRemoved, let removed = opened.first(where: { $0.condition == .removed }) {
            failure = "\(removed.spec): the device was removed (surprise removal or unbind); check the PCI device and rebind it"
        }
        if failure == nil, !problems.isEmpty { failure = problems.joined(separator: "; ") }
        if let failure { throw CommandFailure(failure, then: summary.text) }
        printToStandardError(summary.text)
    }
}
