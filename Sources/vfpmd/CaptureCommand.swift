import Apps
import ArgumentParser
import PMDCore
import PcapIO

/// `vfpmd capture`: writes what a port receives to pcap or pcapng files, as tcpdump does for a netdev.
struct CaptureCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "capture",
        abstract: "Capture what a port receives (all RX queues) to pcap or pcapng files.",
        discussion: """
            Live counters go to standard error every second; the capture stops at -c, --duration, \
            SIGINT, or when a finite source (a pcap port, a simulated VF fed from a file without loop) \
            is exhausted, then flushes, closes and prints a summary in which every received frame \
            is written, filtered out or counted as dropped.

            A file name ending in .pcapng (or --pcapng) writes pcapng: the port as its interface \
            (name, description, filter), an Enhanced Packet Block per frame, and the capture's \
            counters in an Interface Statistics Block at the end of each file.

            Example: vfpmd capture --port pcap:rx=pcaps/protocols.pcap -w out.pcap 'udp and not vlan'
            """
    )

    @OptionGroup var global: GlobalOptions

    @Option(name: .long, help: ArgumentHelp("The port to capture from (pci:ADDR..., sim:FAMILY..., pcap:rx=FILE...).", valueName: "spec"))
    var port: String

    @Option(name: .customShort("w"), help: ArgumentHelp("Output file; with -G an strftime pattern (tcpdump's naming).", valueName: "file"))
    var output: String

    @Option(name: .customShort("c"), help: ArgumentHelp("Stop after writing this many frames.", valueName: "count"))
    var count: UInt64?

    @Option(name: .long, help: ArgumentHelp("Stop after this many seconds.", valueName: "seconds"))
    var duration: Double?

    @Option(name: .customShort("s"), help: ArgumentHelp("Bytes kept of each frame (snap length).", valueName: "snaplen"))
    var snapLength: Int = 262_144

    @Option(name: .customShort("C"), help: ArgumentHelp("Start a new file when the current one exceeds this many millions of bytes (file, file1, file2...).", valueName: "MB"))
    var fileSizeMB: Double?

    @Option(name: .customShort("G"), help: ArgumentHelp("Start a new file every this many seconds, named by the strftime pattern of -w.", valueName: "seconds"))
    var rotateSeconds: Int?

    @Flag(name: .long, help: "Microsecond timestamps (default: nanosecond).")
    var micro = false

    @Flag(name: .long, help: "Write pcapng (the default for a file name ending in .pcapng; pcap otherwise).")
    var pcapng = false

    @OptionGroup var metricsOption: MetricsOption

    @Argument(help: ArgumentHelp("A tcpdump filter expression (pcap-filter(7)); frames it does not match are counted, not written.", valueName: "expression"))
    var expression: [String] = []

    func validate() throws {
        if let count, count == 0 { throw ValidationError("-c must be at least 1") }
        try OptionRanges.seconds(duration, option: "--duration")
        if !(1...262_144).contains(snapLength) { throw ValidationError("-s must be from 1 to 262144 bytes") }
        try OptionRanges.megabytes(fileSizeMB, option: "-C")
        try OptionRanges.whole(rotateSeconds, in: 1...OptionRanges.maxSecondsPerFile, option: "-G")
    }

    func run() throws {
        global.bootstrapLogging()

        var options = CaptureOptions(output: output)
        options.count = count
        options.durationSeconds = duration
        options.snapLength = snapLength
        options.precision = micro ? .microsecond : .nanosecond
        options.rotation = RotationPolicy(maxFileBytes: fileSizeMB.map { Int64($0 * 1_000_000) }, secondsPerFile: rotateSeconds)
        options.filter = expression.joined(separator: " ")

        let metrics = try metricsOption.start()
        defer { metrics?.server.stop() }
        let opened = try openPorts([port])[0]
        defer { _ = OpenedPort.closeAll([opened]) }
        if pcapng || CaptureFileFormat.forFileName(output) == .pcapng {
            options.pcapng = PcapngDescription(application: "vfpmd \(VersionCommand.version)", interfaceName: opened.spec,
                                               interfaceDescription: opened.kindDescription)
        }
        let engine: CaptureEngine
        do { engine = try CaptureEngine(port: opened.port, options: options) } catch { throw CommandFailure(error.description) }

        // The engine keeps the port's statistics to its own threads: scrapes show the
        // capture's counters as of each report.
        metrics?.board.publish(MetricsSnapshot(ports: [], capture: CaptureCounters()))
        StopSignal.install()
        var summary = try engine.run(shouldStop: { StopSignal.isRequested }) { counters, elapsed in
            metrics?.board.publish(MetricsSnapshot(ports: [], capture: counters))
            printToStandardError(CaptureEngine.progressLine(counters, elapsedSeconds: elapsed))
        }
        summary.filterDrops = opened.filterDropReport()
        let problems = OpenedPort.closeAll([opened])
        var failure: String?
        if case .writeFailed(let error) = summary.reason { failure = error.description }
        if failure == nil, case .failed(let reason) = opened.condition { failure = reason }
        if failure == nil, summary.reason == .portRemoved {
            failure = "\(opened.spec): the device was removed (surprise removal or unbind); check the PCI device and rebind it"
        }
        if failure == nil, !problems.isEmpty { failure = problems.joined(separator: "; ") }
        if let failure { throw CommandFailure(failure, then: summary.text) }
        printToStandardError(summary.text)
    }
}
