/// Why a VF's PF did not deliver a received frame to the VF: which of its receive filters
/// turned the frame away.
public enum FilterDropReason: Int, CaseIterable, Sendable, CustomStringConvertible {
    /// A unicast frame addressed to another MAC than the VF's.
    case unicastAddress
    /// A multicast frame to a group the VF did not join (hash miss), or multicast not allowed
    /// by the VF's receive mode.
    case multicastGroup
    /// A broadcast frame while the VF's receive mode refuses broadcast.
    case broadcast
    /// A frame tagged with a VLAN the VF did not join.
    case vlan
    /// A frame longer than the largest the VF accepts (its max frame size).
    case frameSize
    /// A frame that arrived while the PF kept the VF's receive path turned off.
    case receiveDisabled

    public var description: String {
        switch self {
        case .unicastAddress: "unicast to another MAC"
        case .multicastGroup: "multicast not joined"
        case .broadcast: "broadcast refused"
        case .vlan: "VLAN not joined"
        case .frameSize: "longer than the max frame"
        case .receiveDisabled: "receive disabled"
        }
    }
}

/// Frames a VF's PF did not deliver to the VF, counted by reason (`FilterDropReason`).
///
/// Only a simulated PF can tell: a real VF has no register for its PF's filter drops, so on
/// every other port the counts stay zero.
public struct FilterDrops: Equatable, Sendable, Codable {
    /// Unicast frames addressed to another MAC.
    public var unicastAddress: UInt64 = 0
    /// Multicast frames to groups the VF did not join.
    public var multicastGroup: UInt64 = 0
    /// Broadcast frames the VF's receive mode refused.
    public var broadcast: UInt64 = 0
    /// Frames tagged with a VLAN the VF did not join.
    public var vlan: UInt64 = 0
    /// Frames longer than the VF's max frame size.
    public var frameSize: UInt64 = 0
    /// Frames that arrived while the PF kept the VF's receive path off.
    public var receiveDisabled: UInt64 = 0

    /// All zero.
    public init() {}

    /// The count of one reason.
    public subscript(reason: FilterDropReason) -> UInt64 {
        get {
            switch reason {
            case .unicastAddress: unicastAddress
            case .multicastGroup: multicastGroup
            case .broadcast: broadcast
            case .vlan: vlan
            case .frameSize: frameSize
            case .receiveDisabled: receiveDisabled
            }
        }
        set {
            switch reason {
            case .unicastAddress: unicastAddress = newValue
            case .multicastGroup: multicastGroup = newValue
            case .broadcast: broadcast = newValue
            case .vlan: vlan = newValue
            case .frameSize: frameSize = newValue
            case .receiveDisabled: receiveDisabled = newValue
            }
        }
    }

    /// Frames dropped for any reason.
    public var total: UInt64 { FilterDropReason.allCases.reduce(0) { $0 &+ self[$1] } }

    /// The reason that dropped the most frames; nil when none was dropped.
    public var mainReason: FilterDropReason? {
        FilterDropReason.allCases.filter { self[$0] > 0 }.max { self[$0] < self[$1] }
    }

    /// The counts of `self` minus `older`.
    public func delta(since older: FilterDrops) -> FilterDrops {
        var d = FilterDrops()
        for reason in FilterDropReason.allCases { d[reason] = self[reason] &- older[reason] }
        return d
    }
}
