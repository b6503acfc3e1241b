// The Intel devices vfpmd knows: the Virtual Functions it drives and the Physical Functions
// that create them. Device IDs as the Linux ixgbe/ixgbevf and igb/igbvf drivers list them
// (82598 is left out: it has no SR-IOV).

/// The driver family of a supported device, named after the Linux VF driver it replaces.
public enum DeviceFamily: String, Sendable, Codable, CaseIterable {
    /// 82599, X540, X550 (10 GbE); VFs driven by Linux ixgbevf, PFs by ixgbe.
    case ixgbevf
    /// 82576, I350 (1 GbE); VFs driven by Linux igbvf, PFs by igb.
    case igbvf

    /// The Linux driver of this family's VFs.
    public var kernelVFDriver: String { rawValue }
    /// The Linux driver of this family's PFs.
    public var kernelPFDriver: String { self == .ixgbevf ? "ixgbe" : "igb" }
}

/// Whether a function is an SR-IOV Physical Function or one of its Virtual Functions.
public enum FunctionRole: String, Sendable, Codable {
    /// Physical Function: owned by the kernel driver, creates the VFs.
    case pf
    /// Virtual Function: what vfpmd drives.
    case vf
}

/// One row of the table of supported devices.
public struct SupportedDevice: Sendable, Equatable {
    /// PCI vendor ID (always Intel here).
    public let vendorID: UInt16
    /// PCI device ID.
    public let deviceID: UInt16
    /// Driver family.
    public let family: DeviceFamily
    /// PF or VF.
    public let role: FunctionRole
    /// The controller's name, for people.
    public let model: String

    /// The Intel vendor ID.
    public static let intel: UInt16 = 0x8086

    /// The entry for `vendor:device`, or nil when vfpmd does not know the device.
    public static func lookup(vendorID: UInt16, deviceID: UInt16) -> SupportedDevice? {
        guard vendorID == intel else { return nil }
        return all.first { $0.deviceID == deviceID }
    }

    /// Every supported device.
    public static let all: [SupportedDevice] = virtualFunctions + physicalFunctions

    /// The VFs vfpmd drives.
    public static let virtualFunctions: [SupportedDevice] = [
        .init(0x10ED, .ixgbevf, .vf, "82599 VF"),
        .init(0x1515, .ixgbevf, .vf, "X540 VF"),
        .init(0x1565, .ixgbevf, .vf, "X550 VF"),
        .init(0x15A8, .ixgbevf, .vf, "X550EM_x VF"),
        .init(0x15C5, .ixgbevf, .vf, "X550EM_a VF"),
        .init(0x10CA, .igbvf, .vf, "82576 VF"),
        .init(0x1520, .igbvf, .vf, "I350 VF"),
    ]

    /// The PFs whose VFs vfpmd drives.
    public static let physicalFunctions: [SupportedDevice] = [
        // 82599 (ixgbe board_82599)
        .init(0x10F7, .ixgbevf, .pf, "82599 KX4"),
        .init(0x10FC, .ixgbevf, .pf, "82599 XAUI LOM"),
        .init(0x1517, .ixgbevf, .pf, "82599 KR"),
        .init(0x10FB, .ixgbevf, .pf, "82599 SFP+"),
        .init(0x1507, .ixgbevf, .pf, "82599 SFP+ EM"),
        .init(0x1514, .ixgbevf, .pf, "82599 KX4 Mezz"),
        .init(0x10F9, .ixgbevf, .pf, "82599 CX4"),
        .init(0x152A, .ixgbevf, .pf, "82599 Backplane FCoE"),
        .init(0x1529, .ixgbevf, .pf, "82599 SFP+ FCoE"),
        .init(0x151C, .ixgbevf, .pf, "82599 T3 LOM"),
        .init(0x10F8, .ixgbevf, .pf, "82599 Combo Backplane"),
        .init(0x154D, .ixgbevf, .pf, "82599 SFP+ SF2"),
        .init(0x154F, .ixgbevf, .pf, "82599 LS"),
        .init(0x1558, .ixgbevf, .pf, "82599 QSFP+ SF QP"),
        .init(0x1557, .ixgbevf, .pf, "82599EN SFP+"),
        .init(0x154A, .ixgbevf, .pf, "82599 SFP+ SF QP"),
        // X540 (board_X540)
        .init(0x1528, .ixgbevf, .pf, "X540-T"),
        .init(0x1560, .ixgbevf, .pf, "X540-T1"),
        // X550 and X550EM (board_X550, board_X550EM_x, board_x550em_a)
        .init(0x1563, .ixgbevf, .pf, "X550-T"),
        .init(0x15D1, .ixgbevf, .pf, "X550-T1"),
        .init(0x15AA, .ixgbevf, .pf, "X550EM_x KX4"),
        .init(0x15AB, .ixgbevf, .pf, "X550EM_x KR"),
        .init(0x15AC, .ixgbevf, .pf, "X550EM_x SFP+"),
        .init(0x15AD, .ixgbevf, .pf, "X550EM_x 10GBASE-T"),
        .init(0x15AE, .ixgbevf, .pf, "X550EM_x 1GBASE-T"),
        .init(0x15B0, .ixgbevf, .pf, "X550EM_x XFI"),
        .init(0x15C2, .ixgbevf, .pf, "X550EM_a KR"),
        .init(0x15C3, .ixgbevf, .pf, "X550EM_a KR L"),
        .init(0x15C4, .ixgbevf, .pf, "X550EM_a SFP N"),
        .init(0x15C6, .ixgbevf, .pf, "X550EM_a SGMII"),
        .init(0x15C7, .ixgbevf, .pf, "X550EM_a SGMII L"),
        .init(0x15C8, .ixgbevf, .pf, "X550EM_a 10GBASE-T"),
        .init(0x15CE, .ixgbevf, .pf, "X550EM_a SFP+"),
        .init(0x15E4, .ixgbevf, .pf, "X550EM_a 1GBASE-T"),
        .init(0x15E5, .ixgbevf, .pf, "X550EM_a 1GBASE-T L"),
        // 82576 and I350 (igb)
        .init(0x10C9, .igbvf, .pf, "82576"),
        .init(0x10E6, .igbvf, .pf, "82576 Fiber"),
        .init(0x10E7, .igbvf, .pf, "82576 SerDes"),
        .init(0x10E8, .igbvf, .pf, "82576 Quad Copper"),
        .init(0x1526, .igbvf, .pf, "82576 Quad Copper ET2"),
        .init(0x150A, .igbvf, .pf, "82576 NS"),
        .init(0x150D, .igbvf, .pf, "82576 SerDes Quad"),
        .init(0x1518, .igbvf, .pf, "82576 NS SerDes"),
        .init(0x1521, .igbvf, .pf, "I350 Copper"),
        .init(0x1522, .igbvf, .pf, "I350 Fiber"),
        .init(0x1523, .igbvf, .pf, "I350 Backplane"),
        .init(0x1524, .igbvf, .pf, "I350 SGMII"),
    ]

    private init(_ deviceID: UInt16, _ family: DeviceFamily, _ role: FunctionRole, _ model: String) {
        vendorID = Self.intel
        self.deviceID = deviceID
        self.family = family
        self.role = role
        self.model = model
    }
}
