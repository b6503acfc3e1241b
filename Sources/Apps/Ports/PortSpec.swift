import PCISysfs
import PMDCore
import VFDriver
import VFSimulator

/// A port as the user names it on the command line, one grammar for every command:
///
///     pci:ADDR[,queues=N][,rxd=N][,txd=N][,mtu=N][,promisc=on][,allmulti=on][,vlan=ID][,mac=MAC][,noiommu=on]
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
    public internal(set) var kind: Kind

    /// The three kinds of port.
    public enum Kind: Equatable, Sendable {
        /// A real VF through VFIO, the driver's settings for it, and whether the user allows it
        /// to be driven in no-IOMMU mode (`noiommu=on`, `--no-iommu`) should its group be one.
        case pci(address: PCIAddress, driver: VFPortConfiguration, noIOMMU: Bool)
        /// A simulated VF with its wires and PF, and the driver's settings for it.
        case sim(SimulatedVFSettings, driver: VFPortConfiguration)
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

    /// The same spec with the driver's interrupt mode set to `settings` (nil: polling only);
    /// a `pcap:` spec has no driver and stays as it is.
    public func withInterrupts(_ settings: InterruptSettings?) -> PortSpec {
        var copy = self
        switch kind {
        case .pci(let address, var driver, let noIOMMU):
            driver.interrupts = settings
            copy.kind = .pci(address: address, driver: driver, noIOMMU: noIOMMU)
        case .sim(let vf, var driver):
            driver.interrupts = settings
            copy.kind = .sim(vf, driver: driver)
        case .pcap:
            break
        }
        return copy
    }

    /// The same spec, allowing no-IOMMU mode when `allowed` (a command's `--no-iommu`); a
    /// `noiommu=on` in a `pci:` spec stays, and other kinds stay as they are.
    public func allowingNoIOMMU(_ allowed: Bool) -> PortSpec {
        guard allowed, case let .pci(address, driver, _) = kind else { return self }
        var copy = self
        copy.kind = .pci(address: address, driver: driver, noIOMMU: true)
        return copy
    }
}

/// What a `sim:` spec says beyond the driver's settings: the simulated VF, its wires, and its
/// PF's settings for it.
public struct SimulatedVFSettings: Equatable, Sendable {
    /// The device model.
    public var family: SimulatedFamily
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
    public init(family: SimulatedFamily) { self.family = family }

    /// The family names a spec uses (`sim:ixgbevf`), with their models.
    public static let familyNames: [(name: String, family: SimulatedFamily)] = [
        ("ixgbevf", .ixgbe82599), ("x550vf", .ixgbeX550), ("igbvf", .igb82576),
    ]

    /// The driver's defaults for a simulated VF: one queue, rings and pools in 4 KiB pages
    /// (the simulated device needs no hugepages).
    public static var driverDefaults: VFPortConfiguration {
        var config = VFPortConfiguration()
        config.pages = .smallPages
        return config
    }
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
