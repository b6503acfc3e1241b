/// The VF models the simulator offers, and for each the hardware facts that differ:
/// identity here, register offsets and bits in `RegisterMap`, descriptor fields in
/// `AdvancedRxWriteBack` and `AdvancedTxDescriptor`. Written from the datasheet-derived references
/// (82599/X550 VF register map; 82576 VF register map), independently of any driver.
public enum SimulatedFamily: String, Sendable, CaseIterable, CustomStringConvertible {
    /// 82599 VF (8086:10ED), ixgbevf class, answered by an ixgbe PF.
    case ixgbe82599 = "82599 VF"
    /// X550 VF (8086:1565), ixgbevf class with VF-owned RSS registers and MDD on TX.
    case ixgbeX550 = "X550 VF"
    /// 82576 VF (8086:10CA), igbvf class, answered by an igb PF.
    case igb82576 = "82576 VF"

    /// PCI vendor ID (Intel).
    public var vendorID: UInt16 { 0x8086 }

    /// PCI device ID.
    public var deviceID: UInt16 {
        switch self {
        case .ixgbe82599: 0x10ED
        case .ixgbeX550: 0x1565
        case .igb82576: 0x10CA
        }
    }

    /// Whether the ixgbe PF/VF rules apply (else igb).
    public var isIxgbe: Bool { self != .igb82576 }

    /// The register layout of this family.
    public var registers: RegisterMap { isIxgbe ? .ixgbe : .igb }

    public var description: String { rawValue }
}
