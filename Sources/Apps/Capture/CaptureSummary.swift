import PMDCore
import PcapIO

/// The counters of a capture (of all its ports, or of one). Every frame a port delivered is
/// in exactly one of written, filtered out, dropped by the writer (the writer was behind and
/// the ring between it and the receive thread full, or a write of the file failed), or left at
/// stop; frames the port's ring dropped were never delivered and are counted apart.
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
    /// The counters of each port when there are several; empty for one port. Their `written`
    /// counts the records handed to the writer, which are the records written unless a failed
    /// file lost some (`portsWrittenExact` false: which port's records were lost is not known).
    public var ports: [CaptureCounters]
    /// Whether each port's `written` is what reached the files.
    public var portsWrittenExact: Bool
    /// The ports' names, as the user gave them (the caller fills them in; `port N` without).
    public var portNames: [String] = []
    /// The frames each port's PF did not deliver, with advice; nil for a port with none (the
    /// caller, who knows the ports' specs, fills them in).
    public var filterDrops: [FilterDropReport?] = []
    /// Each port's polling: mode, time asleep, wake-ups (the caller fills them in from
    /// `CaptureEngine.polling`; empty prints nothing).
    public var polling: [PollingActivity] = []

    /// A summary of a capture.
    public init(counters: CaptureCounters, reason: CaptureStopReason, files: [String], elapsedSeconds: Double,
                ports: [CaptureCounters] = [], portsWrittenExact: Bool = true) {
        self.counters = counters
        self.reason = reason
        self.files = files
        self.elapsedSeconds = elapsedSeconds
        self.ports = ports
        self.portsWrittenExact = portsWrittenExact
    }

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
        for (index, port) in ports.enumerated() {
            out += "\n  port \(name(of: index)): \(port.received) received, "
                + (portsWrittenExact ? "\(port.written) written, " : "\(port.written) handed to the writer, ")
                + "\(port.filteredOut) filtered out, \(port.droppedByWriter) dropped by writer, "
                + (port.leftAtStop > 0 ? "\(port.leftAtStop) left at stop, " : "")
                + "\(port.droppedByRing) dropped by ring"
        }
        for (index, activity) in polling.enumerated() {
            out += "\n  polling" + (polling.count > 1 ? " \(name(of: index))" : "") + ": " + activity.text
        }
        for (index, report) in filterDrops.enumerated() {
            guard let report else { continue }
            if filterDrops.count > 1 { out += "\n  port \(name(of: index)):" }
            out += "\n" + report.lines(indent: filterDrops.count > 1 ? "    " : "  ").dropLast()
        }
        return out
    }

    private func name(of port: Int) -> String { port < portNames.count ? portNames[port] : "\(port)" }
}
