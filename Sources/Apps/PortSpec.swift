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

/// A PCI address, domain:bus:device.function.
public struct PCIAddress: Hashable, Sendable, CustomStringConvertible {
    /// PCI domain (segment).
    public var domain: UInt16
    /// Bus number.
    public var bus: UInt8
    /// Device number, 0 to 31.
    public var device: UInt8
    /// Function number, 0 to 7.
    public var function: UInt8

    /// An address from its parts.
    public init(domain: UInt16 = 0, bus: UInt8, device: UInt8, function: UInt8) {
        self.domain = domain
        self.bus = bus
        self.device = device
        self.function = function
    }

    /// Parses `DDDD:BB:DD.F` or `BB:DD.F` (hexadecimal, as lspci prints it); nil when malformed.
    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2 || parts.count == 3 else { return nil }
        let domainText = parts.count == 3 ? parts[0] : "0000"
        let busText = parts[parts.count - 2]
        let slot = parts[parts.count - 1].split(separator: ".", omittingEmptySubsequences: false)
        guard slot.count == 2, domainText.count <= 4, busText.count <= 2, slot[0].count <= 2, slot[1].count == 1,
              !domainText.isEmpty, !busText.isEmpty, !slot[0].isEmpty,
              let domain = UInt16(domainText, radix: 16), let bus = UInt8(busText, radix: 16),
              let device = UInt8(slot[0], radix: 16), device < 32,
              let function = UInt8(slot[1], radix: 16), function < 8 else { return nil }
        self.init(domain: domain, bus: bus, device: device, function: function)
    }

    /// `0000:01:10.0`, as sysfs names the device.
    public var description: String {
        func hex(_ v: some BinaryInteger, _ width: Int) -> String {
            let s = String(v, radix: 16)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        return "\(hex(domain, 4)):\(hex(bus, 2)):\(hex(device, 2)).\(function)"
    }
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
