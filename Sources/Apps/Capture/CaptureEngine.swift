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

    /// Options writing to `output`.
    public init(output: String) { self.output = output }
}

/// The counters of a capture. Every frame the port delivered is in exactly one of written,
/// filtered out, dropped by the writer, or left at stop; frames the port's ring dropped were
/// never delivered and are counted apart.
public struct CaptureCounters: Equatable, Sendable {
    /// Frames the port delivered.
    public var received: UInt64 = 0
    /// Frames written to the capture: during the run, handed to the file; in the summary,
    /// whole in the files.
    public var written: UInt64 = 0
    /// Frames the filter did not match.
    public var filteredOut: UInt64 = 0
    /// Frames that are not in the file because a write of it failed.
    public var droppedByWriter: UInt64 = 0
    /// Frames delivered in the last burst after `-c` was reached.
    public var leftAtStop: UInt64 = 0
    /// Frames the port's ring dropped (no free descriptor): the port's `rxMissed` during the capture.
    public var droppedByRing: UInt64 = 0

    /// All zero.
    public init() {}

    /// Whether every received frame is accounted for.
    public var addsUp: Bool { received == written + filteredOut + droppedByWriter + leftAtStop }
}

/// Why a capture stopped.
public enum CaptureStopReason: Equatable, Sendable, CustomStringConvertible {
    /// `-c` frames were written.
    case countReached
    /// `--duration` passed.
    case durationElapsed
    /// SIGINT or SIGTERM (or the caller's stop condition).
    case interrupted
    /// The port is a finite source and it ran dry (or failed reading it).
    case sourceExhausted
    /// The port's device was removed.
    case portRemoved
    /// The capture file could not be written.
    case writeFailed(PcapError)

    public var description: String {
        switch self {
        case .countReached: return "count reached"
        case .durationElapsed: return "duration elapsed"
        case .interrupted: return "interrupted"
        case .sourceExhausted: return "the source is exhausted"
        case .portRemoved: return "the port's device was removed"
        case .writeFailed(let error): return "\(error)"
        }
    }
}

/// The end of a capture.
public struct CaptureSummary: Sendable {
    /// Final counters.
    public var counters: CaptureCounters
    /// Why it stopped.
    public var reason: CaptureStopReason
    /// Files written, in order.
    public var files: [String]
    /// Seconds from start to stop.
    public var elapsedSeconds: Double
    /// The frames the port's PF did not deliver, with advice; nil when none (the caller, who
    /// knows the port's spec, fills it in).
    public var filterDrops: FilterDropReport?

    /// The summary as printed at the end of `vfpmd capture`.
    public var text: String {
        let c = counters
        let rate = elapsedSeconds > 0 ? Double(c.received) / elapsedSeconds / 1e6 : 0
        func row(_ label: String, _ value: UInt64, _ note: String = "") -> String {
            let number = String(value)
            let name = label + String(repeating: " ", count: max(0, 18 - label.count))
            let pad = String(repeating: " ", count: max(0, 14 - number.count))
            let tail: String = note.isEmpty ? "" : "  " + note
            return "  " + name + pad + number + tail + "\n"
        }
        var out = "capture stopped (\(reason)) after \(formatted(elapsedSeconds)) s, \(formatted(rate)) Mpps\n"
        out += row("received", c.received)
        out += row("written", c.written, "to " + (files.count == 1 ? files[0] : "\(files.count) files: " + files.joined(separator: ", ")))
        out += row("filtered out", c.filteredOut)
        out += row("dropped by writer", c.droppedByWriter)
        if c.leftAtStop > 0 { out += row("left at stop", c.leftAtStop, "(received in the burst that reached -c)") }
        out += row("dropped by ring", c.droppedByRing, "(the port's ring was full: never received)")
        out += c.addsUp
            ? "  received = written + filtered out + dropped by writer" + (c.leftAtStop > 0 ? " + left at stop" : "")
            : "  counters do not add up: \(c.received) received, \(c.written + c.filteredOut + c.droppedByWriter + c.leftAtStop) accounted for"
        if let filterDrops { out += "\n" + filterDrops.lines(indent: "  ").dropLast() }
        return out
    }
}

/// Captures what a port receives, on all its RX queues, to pcap or pcapng files: the engine of
/// `vfpmd capture`, testable without the CLI.
///
/// One thread polls the queues in turn; each burst gets one clock reading for its timestamps
/// and the `-G` check; each frame is filtered (BPF) and written, and its buffer goes back to
/// its pool at once. A frame whose VLAN tag the port stripped is filtered and written with
/// the tag back in place, as it was on the wire. Every `flushIntervalSeconds` the buffered
/// records are written to the file (a capture killed outright loses at most that much); every
/// `reportIntervalSeconds` `report` is called with the port's counters, which a thread of
/// their own reads beside the bursts (`StatisticsSampler`): the capture thread never waits on a
/// link's settle reads, and does a port's re-initialisation itself, between two bursts. The summary's
/// counters say what reached the files: records a failed write lost are moved from written to
/// dropped by writer.
public final class CaptureEngine {
    /// The port captured from.
    public let port: any Port
    /// The options.
    public let options: CaptureOptions

    private let writer: RotatingPcapWriter
    private let filter: PacketFilter?

    /// Compiles the filter and creates the first file; throws before anything is received.
    public init(port: any Port, options: CaptureOptions) throws(PcapError) {
        self.port = port
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

    /// Starts the port and captures until a stop condition; then stops the port, flushes and
    /// closes the file. `shouldStop` is polled once per round of bursts (a signal flag);
    /// `report` gets the counters and the seconds since the start about once per interval.
    public func run(
        shouldStop: () -> Bool = { false },
        report: (CaptureCounters, Double) -> Void = { _, _ in }
    ) throws -> CaptureSummary {
        try port.start()
        port.updateStats()
        let missedAtStart = port.stats.rxMissed
        let sampler = StatisticsSampler(port: port, interval: options.reportIntervalSeconds)
        sampler.start()
        let writer = self.writer
        let filter = self.filter
        let port = self.port
        var counters = CaptureCounters()
        var stamper = WallClockStamper()
        var batch = PacketBatch()
        let queues = port.queueCount
        let limit = options.count ?? UInt64.max
        let startTSC = stamper.tscNow
        let interval = UInt64(options.reportIntervalSeconds * 1e9)
        let flushInterval = UInt64(options.flushIntervalSeconds * 1e9)
        let duration = options.durationSeconds.map { UInt64($0 * 1e9) } ?? UInt64.max
        var nextReport = interval
        var nextFlush = flushInterval
        var reason: CaptureStopReason?

        capture: while reason == nil {
            var arrived = 0
            for queue in 0..<queues {
                let n = port.receive(queue: queue, into: &batch)
                guard n > 0 else { continue }
                arrived += n
                stamper.refresh()
                counters.received &+= UInt64(n)
                do throws(PcapError) {
                    try writer.beginBurst(wallNanoseconds: stamper.wallNow)
                } catch {
                    counters.droppedByWriter &+= UInt64(n)
                    reason = .writeFailed(error)
                    batch.removeAll()
                    break
                }
                let wanted = limit &- counters.written
                let result = writer.write(batch, stamper: stamper, filter: filter,
                                          maxRecords: wanted > UInt64(Int.max) ? Int.max : Int(wanted))
                counters.written &+= UInt64(result.written)
                counters.filteredOut &+= UInt64(result.filteredOut)
                let rest = UInt64(n - result.examined)
                if let error = result.error {
                    counters.droppedByWriter &+= rest
                    reason = .writeFailed(error)
                } else if counters.written == limit {
                    counters.leftAtStop &+= rest
                    reason = .countReached
                }
                batch.removeAll()
                if reason != nil { break }
            }
            if reason != nil { break capture }
            if arrived == 0 { stamper.refresh() }
            if arrived == 0 {
                switch port.condition {
                case .running: break
                case .inputExhausted, .failed: reason = .sourceExhausted; break capture
                case .removed: reason = .portRemoved; break capture
                }
            }
            if shouldStop() { reason = .interrupted; break capture }
            if _slowPath(sampler.owesMaintenance) { sampler.maintain() }
            let elapsed = stamper.nanoseconds(from: startTSC, to: stamper.tscNow)
            if elapsed >= duration { reason = .durationElapsed; break capture }
            if elapsed >= nextFlush {
                nextFlush = elapsed + flushInterval
                do throws(PcapError) { try writer.flush() } catch { reason = .writeFailed(error); break capture }
            }
            if elapsed >= nextReport {
                nextReport = elapsed + interval
                stamper.anchor()
                counters.droppedByRing = sampler.stats.rxMissed &- missedAtStart
                writer.statistics.droppedByRing = counters.droppedByRing
                report(counters, Double(elapsed) / 1e9)
            }
        }

        sampler.stop()
        port.stop()
        port.updateStats()
        counters.droppedByRing = port.stats.rxMissed &- missedAtStart
        writer.statistics.droppedByRing = counters.droppedByRing
        writer.statistics.received = counters.received
        do throws(PcapError) {
            try writer.close()
        } catch {
            if case .writeFailed = reason {} else { reason = .writeFailed(error) }
        }
        // What the files hold: records handed to them that a failed write lost are dropped.
        counters.written = UInt64(writer.recordsWritten)
        counters.droppedByWriter &+= UInt64(writer.recordsDropped)
        stamper.refresh()
        let elapsed = Double(stamper.nanoseconds(from: startTSC, to: stamper.tscNow)) / 1e9
        return CaptureSummary(counters: counters, reason: reason!, files: writer.files, elapsedSeconds: elapsed)
    }

    /// One line of live counters, as printed every interval.
    public static func progressLine(_ c: CaptureCounters, elapsedSeconds: Double) -> String {
        let rate = elapsedSeconds > 0 ? Double(c.received) / elapsedSeconds / 1e6 : 0
        return "capture \(formatted(elapsedSeconds)) s: \(c.received) received, \(c.written) written, "
            + "\(c.filteredOut) filtered out, \(c.droppedByRing) dropped by ring, \(c.droppedByWriter) dropped by writer "
            + "(\(formatted(rate)) Mpps average)"
    }
}

/// A number with two decimals.
func formatted(_ value: Double) -> String {
    let hundredths = Int((value * 100).rounded())
    let fraction = hundredths % 100
    return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)"
}
