import Foundation

/// How a bench report reads: the table `vfpmd bench` writes to standard error each second and
/// at the end, and the JSON object of `--json`.
extension BenchReport {
    /// The report as a table for standard error: rates per port (and per queue in the
    /// summary), the simulator's load (summary, simulated ports), then latency percentiles.
    public var table: String {
        let r = self
        var out = String(format: "%@ %.1fs\n", (r.final ? "summary after" : "at") as NSString, r.elapsed)
        for (i, p) in r.ports.enumerated() {
            let line = p.lineRatePercent.map { String(format: " %5.1f%% of line rate", $0) } ?? ""
            out += String(format: "  port %d %@: TX %.3f Mpps %.3f Gbps (L1 %.3f)  RX %.3f Mpps %.3f Gbps (L1 %.3f)  lost %llu  reordered %llu%@\n",
                          i, p.name as NSString, p.txMpps, p.txGbps, p.txGbpsL1, p.rxMpps, p.rxGbps, p.rxGbpsL1,
                          p.lost, p.reordered, line as NSString)
            if p.polling != PollingMode.busy.rawValue {
                out += "    polling: \(PollingActivity(mode: p.polling, asleepSeconds: p.asleepSeconds, wakeUps: p.wakeUps).text)\n"
            }
            if let drops = p.filterDrops { out += drops.lines(indent: "    ") }
            if r.final && p.queues.count > 1 {
                for q in p.queues {
                    out += "    queue \(q.queue): TX \(q.txPackets) packets, RX \(q.rxPackets) packets, lost \(q.lost)\n"
                }
            }
        }
        if let busy = r.modelBusyPercent { out += ModelLoadMeter.line(busy, of: "the run") }
        for (name, l) in (r.latency ?? [:]).sorted(by: { $0.key < $1.key }) {
            out += String(format: "  latency at %@: p50 %.2f µs  p99 %.2f µs  p99.9 %.2f µs  max %.2f µs  (%llu samples)\n",
                          name as NSString, Double(l.p50) / 1e3, Double(l.p99) / 1e3, Double(l.p999) / 1e3,
                          Double(l.max) / 1e3, l.samples)
        }
        return out
    }

    /// The report as one JSON object (snake_case keys, sorted).
    public var json: String {
        let e = JSONEncoder()
        e.keyEncodingStrategy = .convertToSnakeCase
        e.outputFormatting = [.sortedKeys]
        return (try? e.encode(self)).flatMap { String(data: $0, encoding: .utf8) } ?? "{}"
    }
}
