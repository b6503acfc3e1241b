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
        func counter(_ name: String, _ help: String, _ labels: [(String, String)], _ value: UInt64) {
            registry.makeCounter(name: name, labels: labels, help: help).increment(by: Int64(clamping: value))
        }
        func gauge(_ name: String, _ help: String, _ labels: [(String, String)], _ value: Double) {
            registry.makeGauge(name: name, labels: labels, help: help).set(to: value)
        }
        for (index, port) in ports.enumerated() {
            let labels = [("port", String(index)), ("spec", port.spec), ("family", port.family)]
            let s = port.stats
            counter("vfpmd_port_rx_packets_total", "Packets the port received.", labels, s.rxPackets)
            counter("vfpmd_port_rx_bytes_total", "Bytes of the packets the port received.", labels, s.rxBytes)
            counter("vfpmd_port_tx_packets_total", "Packets the port sent.", labels, s.txPackets)
            counter("vfpmd_port_tx_bytes_total", "Bytes of the packets the port sent.", labels, s.txBytes)
            counter("vfpmd_port_rx_missed_total", "Frames the device dropped for lack of free receive descriptors.", labels, s.rxMissed)
            counter("vfpmd_port_rx_no_buffer_total", "Times a receive slot could not be refilled because the pool was empty.", labels, s.rxNoBuffer)
            counter("vfpmd_port_rx_errors_total", "Received frames dropped for errors.", labels, s.rxErrors)
            counter("vfpmd_port_tx_errors_total", "Packets that could not be sent for errors.", labels, s.txErrors)
            let dropped = "Frames the PF's filters did not deliver, by reason, and packets a reset took back from the transmit ring (tx_discarded)."
            for reason in FilterDropReason.allCases {
                counter("vfpmd_port_dropped_total", dropped, labels + [("reason", Self.label(reason))], s.filterDrops[reason])
            }
            counter("vfpmd_port_dropped_total", dropped, labels + [("reason", "tx_discarded")], s.txDiscarded)
            counter("vfpmd_port_resets_total", "Times the port re-initialised itself (PF reset, lost clear-to-send).", labels, s.resets)
            gauge("vfpmd_port_link_up", "1 when the port's link is up, 0 when it is down.", labels, port.link.isUp ? 1 : 0)
            gauge("vfpmd_port_link_speed_bytes_per_second", "The link's speed in bytes per second (0 when down or unknown).", labels, Double(port.link.speedMbps) * 1e6 / 8)
            for q in port.queues {
                let ql = labels + [("queue", String(q.queue))]
                counter("vfpmd_queue_rx_packets_total", "Packets a receive queue handed to the application.", ql, q.rx.packets)
                counter("vfpmd_queue_rx_bytes_total", "Bytes of the packets a receive queue handed to the application.", ql, q.rx.bytes)
                counter("vfpmd_queue_rx_no_buffer_total", "Bursts a receive queue cut short because its pool had no buffer to refill a slot.", ql, q.rx.noBuffer)
                counter("vfpmd_queue_tx_packets_total", "Packets a transmit queue sent.", ql, q.tx.packets)
                counter("vfpmd_queue_tx_bytes_total", "Bytes of the packets a transmit queue sent.", ql, q.tx.bytes)
                counter("vfpmd_queue_tx_ring_full_total", "Transmit calls that left packets in the caller's batch because the queue's ring was full.", ql, q.tx.ringFull)
            }
        }
        for lane in lanes {
            let labels = [("pair", lane.pair), ("queue", String(lane.queue))]
            gauge("vfpmd_lane_longest_poll_gap_seconds", "A forwarding lane's longest pause between two polls since the start.",
                  labels, lane.longestGapMicroseconds / 1e6)
            counter("vfpmd_lane_parks_total", "Times a forwarding lane was parked for port maintenance.", labels, lane.parks)
        }
        if let c = capture {
            counter("vfpmd_capture_received_total", "Frames the capture received from the port.", [("spec", ports.first?.spec ?? "")], c.received)
            counter("vfpmd_capture_written_total", "Frames the capture wrote to its files.", [("spec", ports.first?.spec ?? "")], c.written)
            counter("vfpmd_capture_filtered_out_total", "Frames the capture's filter did not match.", [("spec", ports.first?.spec ?? "")], c.filteredOut)
            let dropped = "Frames the capture lost: the writer failed, the receive ring overflowed, or they arrived in the burst that reached the count."
            for (reason, value) in [("writer", c.droppedByWriter), ("ring", c.droppedByRing), ("left_at_stop", c.leftAtStop)] {
                counter("vfpmd_capture_dropped_total", dropped, [("spec", ports.first?.spec ?? ""), ("reason", reason)], value)
            }
        }
        return registry.emitToBuffer()
    }
}
