import Logging
import PMDCore
import PcapIO

/// What `vfpmd capture` was asked to do.
public struct CaptureOptions: Sendable {
    /// Output file name (an strftime pattern with `-G`).
    public var output: String
    /// `-c`: stop once this many frames were written.
    public var count: UInt64?
    /// `--duration`: stop after this many seconds.
    public var durationSeconds: Double?
    /// `-s`: bytes kept of each frame.
    public var snapLength: Int = 262_144
    /// `-C` and `-G`.
    public var rotation: RotationPolicy = .none
    /// Timestamp precision of the files (`--micro`: microseconds).
    public var precision: TimestampPrecision = .nanosecond
    /// tcpdump filter expression; nil or empty keeps every frame.
    public var filter: String?
    /// Write pcapng files saying this of the capture (the engine puts the filter in it); nil
    /// writes pcap files.
    public var pcapng: PcapngDescription?
    /// Seconds between two lines of live counters.
    public var reportIntervalSeconds: Double = 1
    /// Seconds at most between two writes of the buffered records to the file: what a capture
    /// killed outright loses.
    public var flushIntervalSeconds: Double = 0.1
    /// Slabs in the ring between the receive thread and the writer thread.
    public var ringSlabs = 64
    /// Bytes of each slab of the ring (raised to hold one record of the snap length).
    public var ringSlabBytes = 256 * 1024
    /// How the receive thread waits for frames (the ports must be opened with the policy's
    /// `interruptSettings` for it to sleep). Adaptive with a port that cannot wake it by an
    /// interrupt (a `pcap:` port) polls busily; interrupt mode refuses such a port.
    public var polling = PollingPolicy.busy

    /// Options writing to `output`.
    public init(output: String) { self.output = output }
}

/// Captures what ports receive, on all their RX queues, to pcap or pcapng files: the engine
/// of `vfpmd capture`, testable without the CLI.
///
/// Two threads. The receive thread (the caller's) polls every queue of every port in turn; a
/// round of bursts gets one clock reading for its timestamps, and its frames are taken in
/// timestamp order (merged across queues and ports), filtered (BPF), cut to the snap length
/// (a frame whose VLAN tag the port stripped with the tag back in place, as it was on the
/// wire) and copied into the open slab of a bounded ring (`CaptureHandOver`, `CaptureRing`); each buffer goes
/// back to its pool at once. The writer thread (`CaptureWriterThread`) writes the slabs to the
/// files, so the receive thread never waits on the disk: when the ring is full, the frames
/// that do not fit are counted dropped by the writer (pcapng `isb_osdrop`), never lost
/// unsaid. Ports that are capture files (`pcap:`) have no line rate to keep: for them the
/// receive thread waits for room instead. A lone `pcap:` port whose file is classic pcap is
/// read without rounds or pool buffers: each record goes from the reader's buffer straight into
/// the slab (`CaptureHandOver.takeRecords`), the same records and counters in one copy; into
/// pcap files with no `-C` the slab holds the files' own records, written as they lie.
///
/// A slab is handed over when full, or at the end of a round when the writer waits for work.
/// Within `flushIntervalSeconds` of being caught up the writer writes its buffered records to
/// the file (a capture killed outright loses at most that much); into a pipe or a FIFO (`-w -`
/// piped to a reader) it does so whenever it caught up, for a reader that shows packets live.
/// With `options.polling` adaptive or interrupt, an idle receive thread sleeps on its ports'
/// interrupts (`InterruptSleeper`) once no queue had a frame for the idle threshold, never
/// past the next report (nor `longestSleepMilliseconds` without a stop descriptor). Every `reportIntervalSeconds` `report` is called with the counters;
/// the ports' statistics are read by threads of their own beside the bursts
/// (`StatisticsSampler`). The summary's counters say what reached the files: records a failed
/// write lost are counted dropped by the writer.
public final class CaptureEngine {
    /// The ports captured from, in the order of their pcapng interface IDs.
    public let ports: [any Port]
    /// The options.
    public let options: CaptureOptions

    /// Whether a lone `pcap:` port's classic pcap file is read straight into the ring's slabs
    /// (`CaptureHandOver.takeRecords`) rather than through the port's pool buffers: the same
    /// files and counters with one copy per frame instead of two. Tests turn it off to compare.
    var readsFileRecordsInPlace = true
    /// Whether `run` read records straight into the slabs.
    private(set) var readFileRecordsInPlace = false

    private let writer: RotatingPcapWriter
    private let filter: PacketFilter?
    private var sleeper: InterruptSleeper?
    private var pollingMode: PollingMode = .busy

    /// Each port's polling mode, time asleep and wake-ups so far: read it from `report`, or
    /// after `run`.
    public var polling: [PollingActivity] {
        ports.indices.map { index in
            var activity = PollingActivity(mode: pollingMode)
            if let sleeper {
                activity.asleepSeconds = Double(sleeper.asleepNanoseconds) / 1e9
                activity.wakeUps = sleeper.wakeUps(port: index)
            }
            return activity
        }
    }

    /// The receive thread's sleeps that ran to their time limit, no interrupt or stop having
    /// come: read it after `run`.
    var sleepTimeouts: UInt64 { sleeper?.timeouts ?? 0 }

    /// Compiles the filter and creates the first file; throws before anything is received.
    /// Several ports need pcapng (`options.pcapng` with an interface for each).
    public init(ports: [any Port], options: CaptureOptions) throws(PcapError) {
        precondition(!ports.isEmpty, "a capture needs a port")
        if ports.count > 1 && (options.pcapng?.interfaces.count ?? 1) != ports.count {
            throw .severalPortsNeedPcapng(ports: ports.count)
        }
        self.ports = ports
        self.options = options
        if let expression = options.filter, !expression.isEmpty {
            filter = try PacketFilter(expression: expression)
        } else {
            filter = nil
        }
        var description = options.pcapng
        description?.filter = options.filter ?? ""
        writer = try RotatingPcapWriter(pattern: options.output, snapLength: options.snapLength,
                                        precision: options.precision, rotation: options.rotation, pcapng: description,
                                        wallNanoseconds: MonotonicClock.wallNanoseconds())
    }

    /// A capture of one port.
    public convenience init(port: any Port, options: CaptureOptions) throws(PcapError) {
        try self.init(ports: [port], options: options)
    }

    /// Starts the ports and captures until a stop condition; then stops the ports, lets the
    /// writer thread write everything, and closes the file. `shouldStop` is polled once per
    /// round of bursts (a signal flag), and while `pcap:` ports wait for room in the ring;
    /// `stopDescriptor`, readable once `shouldStop` says yes (`StopRequest.descriptor`), wakes
    /// a sleeping receive thread at once (without one, a sleep lasts at most
    /// `longestSleepMilliseconds`). `report` gets the counters, the seconds since the start and
    /// each port's counters and link as its statistics thread last read them, about once per
    /// interval.
    public func run(
        shouldStop: () -> Bool = { false },
        stopDescriptor: Int32? = nil,
        report: (CaptureCounters, Double, [PortReading]) -> Void = { _, _, _ in }
    ) throws -> CaptureSummary {
        if options.polling.mode == .interrupt, let port = ports.first(where: InterruptSleeper.cannotWake) {
            throw PollingOptionError.cannotInterrupt(port: port.name, waking: "the capture")
        }
        var started: [any Port] = []
        do {
            for port in ports {
                try port.start()
                started.append(port)
            }
        } catch {
            for port in started { port.stop() }
            throw error
        }
        let missedAtStart = ports.map { port in
            port.updateStats()
            return port.stats.rxMissed
        }
        let samplers = ports.map { StatisticsSampler(port: $0, interval: options.reportIntervalSeconds) }
        for sampler in samplers { sampler.start() }
        let sleeper = options.polling.mode == .busy ? nil
            : InterruptSleeper(ports: ports, mailbox: .service(samplers), wakeDescriptors: stopDescriptor.map { [$0] } ?? [])
        let longestSleep = stopDescriptor == nil ? UInt64(Self.longestSleepMilliseconds) : UInt64(Int32.max)
        self.sleeper = sleeper
        pollingMode = sleeper == nil ? .busy : options.polling.mode
        let sleepAfter = UInt64(options.polling.sleepAfterMicroseconds) * 1000
        var idleSince = UInt64.max
        let ring = CaptureRing(slotCount: options.ringSlabs,
                               slotBytes: max(options.ringSlabBytes, RecordSlab.leastCapacity(snapLength: options.snapLength)))
        let writerThread = CaptureWriterThread(ring: ring, writer: writer, flushIntervalSeconds: options.flushIntervalSeconds,
                                               streams: writer.streams)
        writerThread.start()

        let tally = CaptureTally(ports: ports.count)
        let round = CaptureRound(ports: ports)
        let ports = self.ports
        var handOver = CaptureHandOver(ring: ring, writerThread: writerThread, tally: tally, filter: filter,
                                       snapLength: options.snapLength, waitsForWriter: ports.allSatisfy { $0 is PcapPort },
                                       limit: options.count ?? UInt64.max)
        var stamper = WallClockStamper()
        let startTSC = stamper.tscNow
        let interval = UInt64(options.reportIntervalSeconds * 1e9)
        let duration = options.durationSeconds.map { UInt64($0 * 1e9) } ?? UInt64.max
        var nextReport = interval
        var reason: CaptureStopReason?
        var writerFailed = false

        // A lone `pcap:` port's classic pcap file is read straight into the slabs, while the
        // reader's own cursor reads it (a pass through libpcap takes the round's way).
        let recordFile = readsFileRecordsInPlace && ports.count == 1 && !handOver.tracesWriteBacks ? ports[0] as? PcapPort : nil
        // Its records go into the slabs as the pcap file's own when the writer can write them
        // as they lie: pcap files with no `-C` (which looks at each record).
        let pcapRecords = options.pcapng == nil && options.rotation.maxFileBytes == nil ? options.precision : nil

        while reason == nil {
            var arrived = 0
            if let recordFile, recordFile.receivesIntoRecordSlabs {
                readFileRecordsInPlace = true
                stamper.refresh()
                arrived = handOver.takeRecords(of: recordFile, burstTime: stamper.wallNow, pcapRecords: pcapRecords,
                                               shouldStop: shouldStop)
                if handOver.reachedLimit {
                    reason = .countReached
                } else if arrived == 0 {
                    reason = Self.condition(of: ports)
                } else {
                    idleSince = .max
                }
            } else {
                for source in 0..<round.sourceCount {
                    let port = round.sourcePorts[source]
                    let n = round.receive(source, from: ports[port])
                    tally.received[port] &+= UInt64(n)
                    arrived &+= n
                }
                if arrived > 0 {
                    idleSince = .max
                    stamper.refresh()
                    handOver.take(round, stamper: stamper, shouldStop: shouldStop)
                    if handOver.reachedLimit {
                        round.countUntaken(into: tally.leftAtStop)
                        reason = .countReached
                    }
                    round.clear()
                } else {
                    stamper.refresh()
                    reason = Self.condition(of: ports)
                }
            }
            handOver.publishIfWriterWaits()
            if reason != nil { break }
            if writerThread.hasFailed { writerFailed = true; break }
            if shouldStop() { reason = .interrupted; break }
            for sampler in samplers where _slowPath(sampler.owesMaintenance) { sampler.maintain() }
            let elapsed = stamper.nanoseconds(from: startTSC, to: stamper.tscNow)
            if elapsed >= duration { reason = .durationElapsed; break }
            if _slowPath(arrived == 0), let sleeper {
                if idleSince == .max { idleSince = elapsed }
                if elapsed &- idleSince >= sleepAfter {
                    let deadline = min(nextReport, duration)
                    let until = deadline > elapsed ? deadline - elapsed : 0
                    let milliseconds = Int32(min(longestSleep, until / 1_000_000))
                    if milliseconds > 0 && sleeper.sleep(timeoutMilliseconds: milliseconds) {
                        idleSince = .max
                        stamper.refresh()
                        continue
                    }
                }
            }
            if elapsed >= nextReport {
                nextReport = elapsed + interval
                stamper.anchor()
                for (port, sampler) in samplers.enumerated() {
                    tally.droppedByRing[port] = sampler.stats.rxMissed &- missedAtStart[port]
                }
                report(tally.totals(handedAsWritten: true), Double(elapsed) / 1e9, samplers.map(\.reading))
            }
        }

        writerThread.finish()
        for sampler in samplers { sampler.stop() }
        for (index, port) in ports.enumerated() {
            port.stop()
            port.updateStats()
            tally.droppedByRing[index] = port.stats.rxMissed &- missedAtStart[index]
        }
        if writerFailed || writer.failure != nil, let failure = writer.failure { reason = .writeFailed(failure) }
        writer.statistics = (0..<ports.count).map { tally.interfaceStatistics(of: $0, start: writer.statistics[$0].startNanoseconds) }
        do throws(PcapError) {
            try writer.close()
        } catch {
            if case .writeFailed = reason {} else { reason = .writeFailed(error) }
        }
        // What the files hold: records handed to them that a failed write lost are dropped.
        var counters = tally.totals(handedAsWritten: false)
        counters.written = UInt64(writer.recordsWritten)
        counters.droppedByWriter &+= UInt64(writer.recordsDropped + writer.recordsLost)
        stamper.refresh()
        let elapsed = Double(stamper.nanoseconds(from: startTSC, to: stamper.tscNow)) / 1e9
        let exact = writer.recordsDropped + writer.recordsLost == 0
        return CaptureSummary(counters: counters, reason: reason!, files: writer.files, elapsedSeconds: elapsed,
                              ports: ports.count > 1 ? (0..<ports.count).map { tally.counters(of: $0, handedAsWritten: true) } : [],
                              portsWrittenExact: exact)
    }

    /// The longest sleep of an idle receive thread without a stop descriptor: how late it sees
    /// a stop it can only poll (a flag). With one, the next report or the duration bounds it.
    static let longestSleepMilliseconds = 100

    /// Why a round that received nothing ends the capture, if it does: a removed device, a
    /// failed port, or every port a finite source that ran dry.
    private static func condition(of ports: [any Port]) -> CaptureStopReason? {
        var exhausted = 0
        for port in ports {
            switch port.condition {
            case .running: break
            case .removed: return .portRemoved
            case .failed: return .sourceExhausted
            case .inputExhausted: exhausted += 1
            }
        }
        return exhausted == ports.count ? .sourceExhausted : nil
    }

    /// One line of live counters, as printed every interval.
    public static func progressLine(_ c: CaptureCounters, elapsedSeconds: Double) -> String {
        let rate = elapsedSeconds > 0 ? Double(c.received) / elapsedSeconds / 1e6 : 0
        return "capture \(formatted(elapsedSeconds)) s: \(c.received) received, \(c.written) written, "
            + "\(c.filteredOut) filtered out, \(c.droppedByRing) dropped by ring, \(c.droppedByWriter) dropped by writer "
            + "(\(formatted(rate)) Mpps average)"
    }
}

extension CaptureEngine {
    /// What the live line adds about polling: nothing when every port is polled busily;
    /// "; polling adaptive, 0.93 s asleep, 1 wake-up" for one port, each port named for several.
    public static func pollingText(_ polling: [PollingActivity], portNames: [String]) -> String {
        guard polling.contains(where: { $0.mode != .busy }) else { return "" }
        if polling.count == 1 { return "; polling " + polling[0].text }
        return "; polling " + zip(portNames, polling).map { "\($0): \($1.text)" }.joined(separator: ", ")
    }
}

/// A number with two decimals.
func formatted(_ value: Double) -> String {
    let hundredths = Int((value * 100).rounded())
    let fraction = hundredths % 100
    return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)"
}
