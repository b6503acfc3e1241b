// The one table of the Intel devices vfpmd knows: the Virtual Functions it drives and the
// Physical Functions that create them, each with its family and MAC generation. Discovery
// (PCISysfs) and the driver (VFDriver's family tables) both look devices up here.
//
// Device IDs as the Linux drivers list them: ixgbevf `defines.h` and ixgbe `ixgbe_type.h`
// (IXGBE_DEV_ID_*), igbvf `vf.h` and igb `e1000_hw.h` (E1000_DEV_ID_*); the same IDs are in
// the PCI ID Repository (pci-ids.ucw.cz, vendor 8086). A PF reports its VFs' ID in the
// "VF Device ID" field of its SR-IOV capability (each datasheet's PCIe configuration-space
// chapter).
// The 82598 is left out: it has no SR-IOV.

/// The driver family of a device, named after the Linux VF driver vfpmd replaces.
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

/// MAC generations of VF, in datasheet order; "X550 or later" is `>= .x550`. A PF's
/// generation is that of the VFs it creates.
public enum VFGeneration: Int, Comparable, Sendable, CaseIterable, CustomStringConvertible {
    /// 82576 VF (igbvf).
    case i82576
    /// I350 VF (igbvf).
    case i350
    /// 82599 VF (ixgbevf).
    case x82599
    /// X540 VF.
    case x540
    /// X550 VF.
    case x550
    /// X550EM_x VF.
    case x550emX
    /// X550EM_a VF.
    case x550emA

    /// Datasheet order.
    public static func < (a: VFGeneration, b: VFGeneration) -> Bool { a.rawValue < b.rawValue }

    /// The family whose driver serves this generation.
    public var family: DeviceFamily { self <= .i350 ? .igbvf : .ixgbevf }

    /// `82599 VF`: the VF's name.
    public var description: String {
        switch self {
        case .i82576: "82576 VF"
        case .i350: "I350 VF"
        case .x82599: "82599 VF"
        case .x540: "X540 VF"
        case .x550: "X550 VF"
        case .x550emX: "X550EM_x VF"
        case .x550emA: "X550EM_a VF"
        }
    }
}

/// Whether a function is an SR-IOV Physical Function or one of its Virtual Functions.
public enum FunctionRole: String, Sendable, Codable {
    /// Physical Function: owned by the kernel driver, creates the VFs.
    case pf
    /// Virtual Function: what vfpmd drives.
    case vf
}

/// One row of the table of Intel devices vfpmd knows.
public struct IntelDevice: Sendable, Equatable {
    /// The Intel PCI vendor ID.
    public static let vendorID: UInt16 = 0x8086

    /// PCI device ID.
    public let deviceID: UInt16
    /// MAC generation (of the VFs, for a PF).
    public let generation: VFGeneration
    /// PF or VF.
    public let role: FunctionRole
    /// The controller's name, for people.
    public let model: String

    /// Driver family.
    public var family: DeviceFamily { generation.family }

    /// The row for `vendorID:deviceID`, PF or VF; nil when vfpmd does not know the device.
    public static func lookup(vendorID: UInt16, deviceID: UInt16) -> IntelDevice? {
        guard vendorID == Self.vendorID else { return nil }
        return all.first { $0.deviceID == deviceID }
    }

    /// Every known device: the VFs, then the PFs.
    public static let all: [IntelDevice] = virtualFunctions + physicalFunctions

    /// The VFs vfpmd drives.
    public static let virtualFunctions: [IntelDevice] = [
        vf(0x10ED, .x82599), vf(0x1515, .x540), vf(0x1565, .x550), vf(0x15A8, .x550emX), vf(0x15C5, .x550emA),
        vf(0x10CA, .i82576), vf(0x1520, .i350),
    ]

    /// The VFs' IDs by family, as error messages list them:
    /// `ixgbevf: 8086:10ed, 1515, 1565, 15a8, 15c5; igbvf: 8086:10ca, 1520`.
    public static var virtualFunctionIDList: String {
        DeviceFamily.allCases.map { family in
            let ids = virtualFunctions.filter { $0.family == family }.map { String(format4: $0.deviceID) }
            return "\(family.rawValue): \(String(format4: vendorID)):" + ids.joined(separator: ", ")
        }.joined(separator: "; ")
    }

    /// The PFs whose VFs vfpmd drives.
    public static let physicalFunctions: [IntelDevice] = [
        // 82599 (ixgbe board_82599)
        pf(0x10F7, .x82599, "82599 KX4"),
        pf(0x10FC, .x82599, "82599 XAUI LOM"),
        pf(0x1517, .x82599, "82599 KR"),
        pf(0x10FB, .x82599, "82599 SFP+"),
        pf(0x1507, .x82599, "82599 SFP+ EM"),
        pf(0x1514, .x82599, "82599 KX4 Mezz"),
        pf(0x10F9, .x82599, "82599 CX4"),
        pf(0x152A, .x82599, "82599 Backplane FCoE"),
        pf(0x1529, .x82599, "82599 SFP+ FCoE"),
        pf(0x151C, .x82599, "82599 T3 LOM"),
        pf(0x10F8, .x82599, "82599 Combo Backplane"),
        pf(0x154D, .x82599, "82599 SFP+ SF2"),
        pf(0x154F, .x82599, "82599 LS"),
        pf(0x1558, .x82599, "82599 QSFP+ SF QP"),
        pf(0x1557, .x82599, "82599EN SFP+"),
        pf(0x154A, .x82599, "82599 SFP+ SF QP"),
        // X540 (board_X540)
        pf(0x1528, .x540, "X540-T"),
        pf(0x1560, .x540, "X540-T1"),
        // X550 and X550EM (board_X550, board_X550EM_x, board_x550em_a)
        pf(0x1563, .x550, "X550-T"),
        pf(0x15D1, .x550, "X550-T1"),
        pf(0x15AA, .x550emX, "X550EM_x KX4"),
        pf(0x15AB, .x550emX, "X550EM_x KR"),
        pf(0x15AC, .x550emX, "X550EM_x SFP+"),
        pf(0x15AD, .x550emX, "X550EM_x 10GBASE-T"),
        pf(0x15AE, .x550emX, "X550EM_x 1GBASE-T"),
        pf(0x15B0, .x550emX, "X550EM_x XFI"),
        pf(0x15C2, .x550emA, "X550EM_a KR"),
        pf(0x15C3, .x550emA, "X550EM_a KR L"),
        pf(0x15C4, .x550emA, "X550EM_a SFP N"),
        pf(0x15C6, .x550emA, "X550EM_a SGMII"),
        pf(0x15C7, .x550emA, "X550EM_a SGMII L"),
        pf(0x15C8, .x550emA, "X550EM_a 10GBASE-T"),
        pf(0x15CE, .x550emA, "X550EM_a SFP+"),
        pf(0x15E4, .x550emA, "X550EM_a 1GBASE-T"),
        pf(0x15E5, .x550emA, "X550EM_a 1GBASE-T L"),
        // 82576 and I350 (igb)
        pf(0x10C9, .i82576, "82576"),
        pf(0x10E6, .i82576, "82576 Fiber"),
        pf(0x10E7, .i82576, "82576 SerDes"),
        pf(0x10E8, .i82576, "82576 Quad Copper"),
        pf(0x1526, .i82576, "82576 Quad Copper ET2"),
        pf(0x150A, .i82576, "82576 NS"),
        pf(0x150D, .i82576, "82576 SerDes Quad"),
        pf(0x1518, .i82576, "82576 NS SerDes"),
        pf(0x1521, .i350, "I350 Copper"),
        pf(0x1522, .i350, "I350 Fiber"),
        pf(0x1523, .i350, "I350 Backplane"),
        pf(0x1524, .i350, "I350 SGMII"),
    ]

    /// A VF row; its model is the generation's name (`82599 VF`).
    private static func vf(_ deviceID: UInt16, _ generation: VFGeneration) -> IntelDevice {
        IntelDevice(deviceID: deviceID, generation: generation, role: .vf, model: generation.description)
    }

    /// A PF row.
    private static func pf(_ deviceID: UInt16, _ generation: VFGeneration, _ model: String) -> IntelDevice {
        IntelDevice(deviceID: deviceID, generation: generation, role: .pf, model: model)
    }
}
