import Foundation
import PMDCore

/// One port's line of a report: rates over the interval and counters since the start.
public struct PortReportLine: Codable, Sendable, Equatable {
    public var name: String
    public var rxMpps: Double
    public var rxGbps: Double
    public var txMpps: Double
    public var txGbps: Double
    public var rxPackets: UInt64
    public var txPackets: UInt64
    public var dropped: UInt64
    public var missed: UInt64
    public var errors: UInt64
    public var noBuffer: UInt64
    public var resets: UInt64
    /// Packets a transmit ring held when a PF reset (or a removed device) took it back.
    public var txDiscarded: UInt64
    public var link: String
    /// Frames the PF's filters did not deliver since the start; absent when none.
    public var filterDrops: FilterDrops?
}

/// A report: the JSON object written once per interval with `--json`, and the table on stderr.
public struct ForwardReport: Codable, Sendable {
    /// Seconds since the start.
    public var elapsed: Double
    /// One line per port.
    public var ports: [PortReportLine]
    /// Per lane since the start: the longest pause between two polls, and the parks.
    public var lanes: [LaneActivity]

    /// The report of `interval`.
    public init(_ interval: ForwardInterval) {
        elapsed = interval.elapsed
        lanes = interval.lanes
        ports = interval.names.indices.map { i in
            let d = interval.stats[i].delta(since: interval.previousStats[i])
            let s = interval.stats[i]
            let secs = max(interval.seconds, 1e-9)
            return PortReportLine(
                name: interval.names[i],
                rxMpps: Double(d.rxPackets) / secs / 1e6, rxGbps: Double(d.rxBytes) * 8 / secs / 1e9,
                txMpps: Double(d.txPackets) / secs / 1e6, txGbps: Double(d.txBytes) * 8 / secs / 1e9,
                rxPackets: s.rxPackets, txPackets: s.txPackets,
                dropped: interval.totals[i].dropped, missed: s.rxMissed,
                errors: s.rxErrors &+ s.txErrors, noBuffer: s.rxNoBuffer, resets: s.resets,
                txDiscarded: s.txDiscarded, link: interval.links[i].description,
                filterDrops: s.filterDrops.total > 0 ? s.filterDrops : nil)
        }
    }

    /// One line of JSON.
    public var json: String {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys]
        return (try? encoder.encode(self)).flatMap { String(data: $0, encoding: .utf8) } ?? "{}"
    }

    /// The human table.
    public var table: String {
        var out = String(format: "%7.1fs %-28@ %8@ %8@ %8@ %8@ %10@ %8@ %7@ %7@ %6@ %@\n",
                         elapsed, "port" as NSString, "RX Mpps" as NSString, "RX Gbps" as NSString,
                         "TX Mpps" as NSString, "TX Gbps" as NSString, "dropped" as NSString,
                         "missed" as NSString, "errors" as NSString, "no-buf" as NSString,
                         "resets" as NSString, "link" as NSString)
        for (i, p) in ports.enumerated() {
            let name = p.name.count > 26 ? String(p.name.prefix(25)) + "…" : p.name
            out += String(format: "%8d %-28@ %8.3f %8.3f %8.3f %8.3f %10llu %8llu %7llu %7llu %6llu %@\n",
                          i, name as NSString, p.rxMpps, p.rxGbps, p.txMpps, p.txGbps,
                          p.dropped, p.missed, p.errors, p.noBuffer, p.resets, p.link as NSString)
        }
        return out + lanes.pollingLines
    }
}

extension [LaneActivity] {
    /// One line per lane saying how it polled ("  lane 0:1 queue 0: adaptive, 0.93 s asleep,
    /// 2 wake-ups"); nothing when every lane polls busily.
    var pollingLines: String {
        guard contains(where: { $0.polling != PollingMode.busy.rawValue }) else { return "" }
        return map { "  lane \($0.pair) queue \($0.queue): \($0.pollingText)\n" }.joined()
    }
}

extension ForwardSummary {
    /// The final summary: what each port received and sent, and why the run ended.
    public func text(names: [String]) -> String {
        let s = self
        let within = s.forwardingSeconds < s.seconds ? String(format: " in %.2f s", s.forwardingSeconds) : ""
        var text = String(format: "forward: %@ after %.2f s; %llu packets forwarded%@ (%.3f Mpps)\n",
                          s.reason.rawValue, s.seconds, s.forwarded, within as NSString,
                          Double(s.forwarded) / max(s.forwardingSeconds, 1e-9) / 1e6)
        for (i, name) in names.enumerated() {
            let t = s.ports[i], st = s.portStats[i]
            text += "  port \(i) \(name): received \(t.received), sent \(t.sent), dropped \(t.dropped), "
                + "missed \(st.rxMissed), errors \(st.rxErrors + st.txErrors), no-buffer \(st.rxNoBuffer), resets \(st.resets)"
                + (st.txDiscarded > 0 ? ", discarded from the TX ring at reset \(st.txDiscarded)" : "") + "\n"
            if let drops = s.filterDrops[i] { text += drops.lines(indent: "    ") }
        }
        text += s.lanes.pollingLines
        for mirror in s.mirrors { text += mirror.line }
        if let busy = s.modelBusyPercent { text += ModelLoadMeter.line(busy, of: "the forwarding time") }
        return text
    }

    /// The final summary as one JSON object (snake_case keys, sorted), printed last with `--json`.
    public func json(names: [String]) -> String {
        let summary = ForwardSummaryJSON(
            reason: reason.rawValue, seconds: seconds, forwardingSeconds: forwardingSeconds, forwarded: forwarded,
            ports: names.indices.map { i in
                let t = ports[i], st = portStats[i]
                return ForwardSummaryJSON.Port(
                    name: names[i], received: t.received, sent: t.sent, dropped: t.dropped, missed: st.rxMissed,
                    errors: st.rxErrors &+ st.txErrors, noBuffer: st.rxNoBuffer, resets: st.resets,
                    filterDrops: filterDrops[i])
            },
            lanes: lanes, mirrors: mirrors, modelBusyPercent: modelBusyPercent)
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys]
        return (try? encoder.encode(summary)).flatMap { String(data: $0, encoding: .utf8) } ?? "{}"
    }
}

/// The shape of the final summary's JSON: why the run ended, and per port what the text
/// summary says.
private struct ForwardSummaryJSON: Encodable {
    struct Port: Encodable {
        var name: String
        var received: UInt64
        var sent: UInt64
        var dropped: UInt64
        var missed: UInt64
        var errors: UInt64
        var noBuffer: UInt64
        var resets: UInt64
        /// Absent when the PF's filters dropped nothing.
        var filterDrops: FilterDropReport?
    }
    /// Marks the object as the summary, not an interval's report.
    let summary = true
    var reason: String
    var seconds: Double
    var forwardingSeconds: Double
    var forwarded: UInt64
    var ports: [Port]
    var lanes: [LaneActivity]
    var mirrors: [MirrorTotals]
    /// Absent without simulated ports.
    var modelBusyPercent: Double?
}

extension MirrorTotals {
    /// The summary's line of the mirror: per interface what it saw, filtered out and dropped,
    /// then what the file holds.
    var line: String {
        let parts = interfaces.map { "\($0.name): seen \($0.seen), filtered out \($0.filteredOut), dropped \($0.dropped)" }
        return "  mirror \(file): " + parts.joined(separator: "; ") + "; written \(written)"
            + (notWritten > 0 ? ", not written \(notWritten)" : "") + "\n"
    }
}
