import PCISysfs
import PMDCore

/// A port as the user names it on the command line, one grammar for every command:
///
///     pci:ADDR[,queues=N][,rxd=N][,txd=N][,mtu=N][,promisc=on][,allmulti=on][,vlan=ID][,mac=MAC]
///     ADDR                        (a bare PCI address: the same as pci:ADDR)
///     sim:FAMILY[,name=NAME][,rx=FILE][,loop=N][,tx=FILE][,link=NAME][,queues=N]
///                [,spoofchk=on|off][,trust=on|off][,mac=MAC]      FAMILY: ixgbevf, x550vf, igbvf
///     pcap:rx=FILE[,tx=FILE][,loop=N]   (either file may be left out, not both)
///
/// `PortSpec(parsing:)` checks every part and says exactly which one is wrong (`PortSpecError`).
public struct PortSpec: Equatable, Sendable, CustomStringConvertible {
    /// The spec as the user wrote it.
    public let text: String
    /// What the spec names, with its settings.
    public let kind: Kind

    /// The three kinds of port.
    public enum Kind: Equatable, Sendable {
        /// A real VF through VFIO.
        case pci(PCIPortSettings)
        /// A simulated VF.
        case sim(SimPortSettings)
        /// A port over capture files.
        case pcap(PcapPortSettings)
    }

    /// The kind's name as written before the colon.
    public var kindName: String {
        switch kind {
        case .pci: return "pci"
        case .sim: return "sim"
        case .pcap: return "pcap"
        }
    }

    public var description: String { text }
}

/// Settings of a `pci:` port.
public struct PCIPortSettings: Equatable, Sendable {
    /// The VF's PCI address.
    public var address: PCIAddress
    /// Queue pairs to use (nil: the driver's default).
    public var queues: Int?
    /// RX descriptors per queue (nil: default).
    public var rxDescriptors: Int?
    /// TX descriptors per queue (nil: default).
    public var txDescriptors: Int?
    /// MTU in bytes (nil: default 1500).
    public var mtu: Int?
    /// Ask the PF for promiscuous mode.
    public var promiscuous = false
    /// Ask the PF for all multicast.
    public var allMulticast = false
    /// VLAN to join (nil: none).
    public var vlan: UInt16?
    /// MAC address to ask the PF for (nil: the one the PF gave).
    public var mac: MACAddress?

    /// Settings with defaults for `address`.
    public init(address: PCIAddress) { self.address = address }
}

/// The simulated VF families.
public enum SimFamily: String, CaseIterable, Sendable {
    /// 82599 VF.
    case ixgbevf
    /// X550 VF.
    case x550vf
    /// 82576 / I350 VF.
    case igbvf
}

/// Settings of a `sim:` port: the simulated VF, its wires, and the PF's settings for it.
public struct SimPortSettings: Equatable, Sendable {
    /// The device family.
    public var family: SimFamily
    /// Name others use to cable to this VF (`link=`).
    public var name: String?
    /// Capture whose frames arrive on the VF's wire.
    public var rxFile: String?
    /// Times the RX capture is played (0: forever; default once).
    public var loop: Int = 1
    /// Capture receiving what the VF's wire carries away.
    public var txFile: String?
    /// Simulated VF this one is cabled to.
    public var link: String?
    /// Queue pairs (nil: default).
    public var queues: Int?
    /// PF spoof checking (Linux default on).
    public var spoofCheck = true
    /// PF trust (Linux default off).
    public var trusted = false
    /// MAC address the PF assigns (nil: the PF chooses).
    public var mac: MACAddress?
    /// The far end of an `rx=` file wire honours flow control (PAUSE): frames wait for free
    /// receive descriptors instead of being dropped (default on; off shows the drops).
    public var pause = true
    /// The driver's settings, as for a `pci:` port: RX/TX descriptors per queue, MTU (the
    /// simulated PF runs an MTU at least as large), promiscuous and all-multicast requests
    /// (the PF grants them to trusted VFs), VLANs to join.
    public var rxDescriptors: Int?
    public var txDescriptors: Int?
    public var mtu: Int?
    public var promiscuous = false
    public var allMulticast = false
    public var vlans: [UInt16] = []

    /// Default settings for `family`.
    public init(family: SimFamily) { self.family = family }
}

/// Settings of a `pcap:` port.
public struct PcapPortSettings: Equatable, Sendable {
    /// Capture to receive from.
    public var rxFile: String?
    /// Capture to write transmitted frames to.
    public var txFile: String?
    /// Times the RX capture is played (0: forever; default once).
    public var loop: Int = 1

    /// Settings with no file.
    public init(rxFile: String? = nil, txFile: String? = nil, loop: Int = 1) {
        self.rxFile = rxFile
        self.txFile = txFile
        self.loop = loop
    }
}
