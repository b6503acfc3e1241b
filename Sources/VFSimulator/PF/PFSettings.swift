import PMDCore

/// What the PF's administrator set for one VF (`ip link set PF vf N ...`) and the PF's own
/// configuration that the VF can observe. Change it with `SimulatedVF.configurePF(_:)`.
public struct PFSettings: Sendable {
    /// `ip link set PF vf N mac M`: the MAC given to the VF at RESET. When set, an untrusted VF
    /// cannot change it (SET_MAC_ADDR is NACKed). Nil: no MAC assigned (ixgbe PF: RESET NACK;
    /// igb PF: RESET NACK with zeroed MAC words, as recent Linux PFs do).
    public var administrativeMAC: MACAddress?
    /// `spoofchk`: drop transmitted frames whose source MAC is not the VF's (default on).
    public var spoofCheck = true
    /// `trust`: allows promiscuous/all-multicast modes and changing an admin-set MAC (default off).
    public var trusted = false
    /// `state enable|disable`: administrative link state (GET_LINK_STATE word 1).
    public var administrativeLinkEnabled = true
    /// The PF netdev's MTU (82599 jumbo rules of SET_LPE, default RX max frame).
    public var pfMTU = 1500
    /// Whether the PF itself is in promiscuous mode (needed for a VF's PROMISC xcast mode).
    public var pfPromiscuous = false
    /// Queues per pool the PF gives each VF (GET_QUEUES words 1 and 2): 1, 2, 4 or 8 (ixgbe).
    public var queuesPerPool = 2
    /// Port VLAN set by the administrator (SET_VLAN is then NACKed); nil when none.
    public var portVLAN: UInt16?
    /// ixgbe multicast filter type (RESET reply word 3), 0...3.
    public var multicastFilterType: UInt32 = 0
    /// `query_rss on`: 82599/X540 VFs may read the PF's RETA and RSS key.
    public var rssQueryEnabled = false
    /// 82599: the PF's RSS key (40 bytes) used for the VF's pool and reported by GET_RSS_KEY.
    public var pfRSSKey: [UInt8] = RSSHash.microsoftKey
    /// 82599: the PF's 128-entry redirection table (entry values select a queue of the pool).
    public var pfRETA: [UInt8] = (0..<128).map { UInt8($0 % 4) }
    /// 82599: RSS hash fields the PF enabled (MRQC bits 16...23).
    public var pfRSSFields: UInt32 = RSSHash.defaultFields
    /// igb: the PF strips VLAN tags for this VF (also turned on by the VF's first SET_VLAN).
    public var igbStripVLAN = false

    /// Defaults: no MAC assigned, spoof checking on, untrusted, link enabled, MTU 1500.
    public init() {}

    /// Defaults with an administrator-assigned MAC.
    public init(mac: MACAddress) { administrativeMAC = mac }
}

/// The PF's view of one VF, as the mailbox responder keeps it (a snapshot for tests).
public struct PFView: Sendable, Equatable {
    /// Clear to send: the VF completed RESET since its last reset or the PF's.
    public var clearToSend = false
    /// Negotiated mailbox API (ixgbe); 1.0 after every reset.
    public var api: PFMailboxAPI = .v1_0
    /// The VF's MAC as the PF filters and checks it; nil before any.
    public var mac: MACAddress?
    /// Multicast hash vectors from SET_MULTICAST.
    public var multicastHashes: [UInt16] = []
    /// igb: multicast promiscuous (SET_PROMISC multicast, or more than 30 groups).
    public var multicastPromiscuous = false
    /// VLAN ids the VF joined.
    public var vlans: Set<UInt16> = []
    /// Largest frame (with CRC) the VF may receive, from SET_LPE and the PF's MTU.
    public var maxFrame = 1518
    /// ixgbe 82599: the PF turned the VF's receive path off (jumbo rules).
    public var receiveEnabled = true
    /// Applied UPDATE_XCAST_MODE.
    public var xcastMode: PFXcastMode = .multi
    /// Requests handled since creation (every message type).
    public var requestsHandled = 0
}
