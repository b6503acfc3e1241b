import PMDCore
import Prometheus

/// The Prometheus text exposition of a snapshot: counters named `vfpmd_…_total`, gauges in
/// base units (bytes per second, seconds), a `# HELP` and `# TYPE` line for each name, and the
/// labels `port` (its number on the command line), `spec` and `family` on every port series.
extension MetricsSnapshot {
    /// The label a `vfpmd_port_dropped_total` series gets for each filter drop reason.
    static func label(_ reason: FilterDropReason) -> String {
        switch reason {
        case .unicastAddress: "unicast_address"
        case .multicastGroup: "multicast_group"
        case .broadcast: "broadcast"
        case .vlan: "vlan"
        case .frameSize: "frame_size"
        case .receiveDisabled: "receive_disabled"
        }
    }

    /// The exposition, built in a registry of its own (so that it holds exactly this snapshot).
    public var exposition: [UInt8] {
        let registry = PrometheusCollectorRegistry()
        /// `vfpmd_<name>_total`.
        func counter(_ name: String, _ help: String, _ labels: [(String, String)], _ value: UInt64) {
            let descriptor = MetricNameDescriptor(namespace: "vfpmd", metricName: name, unitName: "total", helpText: help)
            registry.makeCounter(descriptor: descriptor, labels: labels).increment(by: Int64(clamping: value))
        }
        /// `vfpmd_<name>_seconds_total`.
        func seconds(_ name: String, _ help: String, _ labels: [(String, String)], _ value: Double) {
            let descriptor = MetricNameDescriptor(namespace: "vfpmd", metricName: name, unitName: "seconds_total", helpText: help)
            registry.makeCounter(descriptor: descriptor, labels: labels).increment(by: value)
        }
        /// `vfpmd_<name>_<unit>` (`vfpmd_<name>` for a unit of "").
        func gauge(_ name: String, unit: String, _ help: String, _ labels: [(String, String)], _ value: Double) {
            let descriptor = MetricNameDescriptor(namespace: "vfpmd", metricName: name, unitName: unit, helpText: help)
            registry.makeGauge(descriptor: descriptor, labels: labels).set(to: value)
        }
        for (index, port) in ports.enumerated() {
            let labels = [("port", String(index)), ("spec", port.spec), ("family", port.family)]
            let s = port.stats
            counter("port_rx_packets", "Packets the port received.", labels, s.rxPackets)
            counter("port_rx_bytes", "Bytes of the packets the port received.", labels, s.rxBytes)
            counter("port_tx_packets", "Packets the port sent.", labels, s.txPackets)
            counter("port_tx_bytes", "Bytes of the packets the port sent.", labels, s.txBytes)
            counter("port_rx_missed", "Frames the device dropped for lack of free receive descriptors.", labels, s.rxMissed)
            counter("port_rx_no_buffer", "Times a receive slot could not be refilled because the pool was empty.", labels, s.rxNoBuffer)
            counter("port_rx_errors", "Received frames dropped for errors.", labels, s.rxErrors)
            counter("port_tx_errors", "Packets that could not be sent for errors.", labels, s.txErrors)
            let dropped = "Frames the PF's filters did not deliver, by reason, and packets a reset took back from the transmit ring (tx_discarded)."
            for reason in FilterDropReason.allCases {
                counter("port_dropped", dropped, labels + [("reason", Self.label(reason))], s.filterDrops[reason])
            }
            counter("port_dropped", dropped, labels + [("reason", "tx_discarded")], s.txDiscarded)
            counter("port_resets", "Times the port re-initialised itself (PF reset, lost clear-to-send).", labels, s.resets)
            gauge("port_link_up", unit: "", "1 when the port's link is up, 0 when it is down.", labels, port.link.isUp ? 1 : 0)
            gauge("port_link_speed", unit: "bytes_per_second", "The link's speed in bytes per second (0 when down or unknown).", labels, Double(port.link.speedMbps) * 1e6 / 8)
            for q in port.queues {
                let ql = labels + [("queue", String(q.queue))]
                counter("queue_rx_packets", "Packets a receive queue handed to the application.", ql, q.rx.packets)
                counter("queue_rx_bytes", "Bytes of the packets a receive queue handed to the application.", ql, q.rx.bytes)
                counter("queue_rx_no_buffer", "Bursts a receive queue cut short because its pool had no buffer to refill a slot.", ql, q.rx.noBuffer)
                counter("queue_tx_packets", "Packets a transmit queue sent.", ql, q.tx.packets)
                counter("queue_tx_bytes", "Bytes of the packets a transmit queue sent.", ql, q.tx.bytes)
                counter("queue_tx_ring_full", "Transmit calls that left packets in the caller's batch because the queue's ring was full.", ql, q.tx.ringFull)
                if let polling = q.polling {
                    seconds("queue_asleep", "Seconds the bench thread of a queue slept on its interrupts.", ql, polling.asleepSeconds)
                    counter("queue_wake_ups", "Sleeps of a queue's bench thread that its port's interrupts ended.", ql, polling.wakeUps)
                }
            }
        }
        for lane in lanes {
            let labels = [("pair", lane.pair), ("queue", String(lane.queue))]
            gauge("lane_longest_poll_gap", unit: "seconds", "A forwarding lane's longest pause between two polls since the start.",
                  labels, lane.longestGapMicroseconds / 1e6)
            counter("lane_parks", "Times a forwarding lane was parked for port maintenance.", labels, lane.parks)
            seconds("lane_asleep", "Seconds a forwarding lane slept on its ports' interrupts.", labels, lane.asleepSeconds)
            counter("lane_wake_ups", "Sleeps of a forwarding lane that its ports' interrupts ended.", labels, lane.wakeUps)
        }
        if let c = capture {
            counter("capture_received", "Frames the capture received from the port.", [], c.received)
            counter("capture_written", "Frames the capture wrote to its files.", [], c.written)
            counter("capture_filtered_out", "Frames the capture's filter did not match.", [], c.filteredOut)
            let dropped = "Frames the capture lost: the writer failed, the receive ring overflowed, or they arrived in the burst that reached the count."
            for (reason, value) in [("writer", c.droppedByWriter), ("ring", c.droppedByRing), ("left_at_stop", c.leftAtStop)] {
                counter("capture_dropped", dropped, [("reason", reason)], value)
            }
        }
        return registry.emitToBuffer()
    }
}
