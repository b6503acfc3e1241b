import PMDCore

/// What the PF's receive filters kept from the VF, as the PF counts it (a real VF cannot see
/// these counts). Any thread may ask, while the engine runs; the counts survive VF resets.
extension SimulatedVF {
    /// Frames the PF's filters did not deliver to the VF, by reason.
    public var filterDrops: FilterDrops { filterDropCounters.snapshot }

    /// The destination of most unicast frames dropped for their address (the majority one when
    /// one destination was more than half of them, otherwise one of them); nil before any.
    public var mostDroppedDestination: MACAddress? {
        filterDropCounters.destinations.winner.map(ReceiveFilter.unpack)
    }

    /// The VLAN id of most frames dropped for their VLAN (as `mostDroppedDestination` chooses);
    /// nil before any.
    public var mostDroppedVLAN: UInt16? {
        filterDropCounters.vlans.winner.map { UInt16(truncatingIfNeeded: $0) }
    }

    /// The length of the longest frame dropped for its size, without CRC and without an 802.1Q
    /// tag; nil before any.
    public var longestDroppedFrame: Int? { filterDropCounters.longestOversizeFrame }
}
