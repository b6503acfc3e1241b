import PMDCore
import VFDriver
import VFSimulator

/// What a port's PF kept from it, and the one thing to set on the port's spec so that those
/// frames arrive. The summaries of forward, capture and bench show it for every port whose
/// PF's filters dropped frames; only a simulated PF can tell (a real VF cannot see its PF's
/// counts).
public struct FilterDropReport: Codable, Sendable, Equatable {
    /// The frames dropped, by reason.
    public var drops: FilterDrops
    /// One sentence naming what to set on the port's spec, for the reason that dropped most.
    public var advice: String

    /// The report as summary lines: the drops by reason, then the advice, each after `indent`.
    public func lines(indent: String) -> String {
        let reasons = FilterDropReason.allCases.filter { drops[$0] > 0 }.map { "\(drops[$0]) \($0)" }
        return indent + "not delivered by the PF's filters: \(drops.total) (" + reasons.joined(separator: ", ") + ")\n"
            + indent + "advice: " + advice + "\n"
    }
}

extension OpenedPort {
    /// The frames the port's PF did not deliver since `start` (the port's `filterDrops` at
    /// that time) as of the port's last `updateStats()`, with the advice; nil when there are
    /// none.
    public func filterDropReport(since start: FilterDrops = FilterDrops()) -> FilterDropReport? {
        let drops = port.stats.filterDrops.delta(since: start)
        guard let reason = drops.mainReason else { return nil }
        return FilterDropReport(drops: drops, advice: advice(for: reason))
    }

    /// What to set on the spec against drops for `reason`.
    private func advice(for reason: FilterDropReason) -> String {
        let vf = SimulatedLab.simulatedVF(behind: port)
        let own = port.macAddress
        switch reason {
        case .unicastAddress:
            var promiscuous = ""
            if case let .sim(settings, _) = kind, settings.family == .ixgbeX550 {
                promiscuous = "; or promisc=on,trust=on to receive frames to every address (an X550 VF may be promiscuous)"
            }
            guard let destination = vf?.mostDroppedDestination else {
                return "set mac= on the port spec to the frames' destination: they are not addressed to the VF's MAC \(own)" + promiscuous
            }
            return "set mac=\(destination) on the port spec: the dropped frames are addressed to \(destination), "
                + "not to the VF's MAC \(own)" + promiscuous
        case .multicastGroup, .broadcast:
            return "set allmulti=on,trust=on on the port spec: the PF delivers multicast groups the VF did not join, "
                + "and broadcast in every receive mode, only to a trusted VF in all-multicast mode"
        case .vlan:
            guard let id = vf?.mostDroppedVLAN else {
                return "set vlan= on the port spec to the frames' VLAN: the VF did not join it"
            }
            return "set vlan=\(id) on the port spec: the dropped frames are tagged with VLAN \(id), which the VF did not join"
        case .frameSize:
            guard let length = vf?.longestDroppedFrame else {
                return "set mtu= on the port spec to the frames' length less the \(EthernetHeader.length)-byte Ethernet header"
            }
            let mtu = length - EthernetHeader.length
            let largest = VFPortConfiguration.mtuRange.upperBound
            guard mtu <= largest else {
                return "the longest dropped frame is \(length) bytes; the largest MTU a VF takes is \(largest) (mtu=\(largest))"
            }
            return "set mtu=\(mtu) on the port spec: the longest dropped frame is \(length) bytes, "
                + "over the VF's max frame size"
        case .receiveDisabled:
            return "set mtu=1500 (or leave mtu= out) on the port spec: the PF turned the VF's receive path off "
                + "for the frame size the VF asked for"
        }
    }
}
