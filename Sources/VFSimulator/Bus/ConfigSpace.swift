/// A VF's PCI Express configuration space (4 KiB): identity, command register, class code, in
/// the type 0 header layout of the PCI specification. A VF's BARs read 0 (their addresses live
/// in the PF's SR-IOV capability); of the command register only Bus Master Enable and INTx
/// Disable are writable (Memory Space Enable is hard-wired for VFs; ixgbevf.md §2, igbvf.md §2).
///
/// One capability is modelled, MSI-X (PCI Local Bus specification, MSI-X capability; 82599
/// datasheet §7.3 and §9 and 82576 datasheet §7.3 and §9, MSI-X): at 0x70 as on QEMU's igb VF
/// (igbvf.md §2), table size 3 vectors (ixgbevf.md §2, igbvf.md §2), table in BAR3 at 0 and
/// pending bits in BAR3 at 0x2000. Of its Message Control only MSI-X Enable (bit 15) and
/// Function Mask (bit 14) are writable. The MSI-X table's per-vector mask bits are not
/// modelled: a vector's message goes to the eventfd attached to it.
struct ConfigSpace {
    /// Bytes of configuration space.
    static let size = 4096
    /// Command register bits the model stores.
    static let writableCommandBits: UInt32 = PCIConfigBits.busMaster | PCIConfigBits.intxDisable

    private var words = [UInt32](repeating: 0, count: ConfigSpace.size / 4)

    /// Header offsets: vendor/device ID, command/status, class code/revision, subsystem IDs.
    static let identityOffset = 0x00, commandOffset = 0x04, classOffset = 0x08, subsystemOffset = 0x2C
    /// Class 02 (network controller), subclass 00 (Ethernet), interface 00, revision 1.
    static let classAndRevision: UInt32 = 0x0200_0001

    /// Status register bit 4 (in the command/status word): the capability list exists.
    static let capabilityListBit: UInt32 = 1 << 20
    /// Capabilities pointer and the MSI-X capability's place.
    static let capabilityPointerOffset = 0x34, msixOffset = 0x70
    /// MSI-X capability ID (PCI specification).
    static let msixCapabilityID: UInt32 = 0x11
    /// MSI-X vectors of every simulated VF (ixgbevf.md §2, igbvf.md §2).
    static let msixVectors = 3
    /// Table offset/BIR and PBA offset/BIR words: BAR3 at 0 and at 0x2000 (igbvf.md §2).
    static let msixTableWord: UInt32 = 3, msixPBAWord: UInt32 = 0x2000 | 3

    mutating func setIdentity(vendor: UInt16, device: UInt16) {
        words[Self.identityOffset / 4] = UInt32(vendor) | UInt32(device) << 16
        words[Self.commandOffset / 4] = Self.capabilityListBit
        words[Self.classOffset / 4] = Self.classAndRevision
        words[Self.subsystemOffset / 4] = UInt32(vendor)  // subsystem vendor; subsystem id 0
        words[Self.capabilityPointerOffset / 4] = UInt32(Self.msixOffset)
        // ID, next pointer 0 (last capability), Message Control: table size - 1 in bits 10:0.
        words[Self.msixOffset / 4] = Self.msixCapabilityID | UInt32(Self.msixVectors - 1) << 16
        words[Self.msixOffset / 4 + 1] = Self.msixTableWord
        words[Self.msixOffset / 4 + 2] = Self.msixPBAWord
    }

    func read(_ offset: Int) -> UInt32 { words[offset / 4] }

    mutating func write(_ value: UInt32, at offset: Int) {
        let (i, writable): (Int, UInt32)
        switch offset {
        case Self.commandOffset: (i, writable) = (offset / 4, Self.writableCommandBits)
        case Self.msixOffset: (i, writable) = (offset / 4, MSIXControlBits.writable)
        default: return
        }
        words[i] = (words[i] & ~writable) | (value & writable)
    }

    /// Whether MSI-X Enable is set and Function Mask clear: the function may send messages.
    var msixDelivers: Bool { words[Self.msixOffset / 4] & MSIXControlBits.writable == MSIXControlBits.enable }

    /// Whether the device may master the bus (DMA).
    var busMasterEnabled: Bool { words[Self.commandOffset / 4] & PCIConfigBits.busMaster != 0 }
}

/// PCI command register bits: Bus Master Enable (2), Interrupt Disable (10).
enum PCIConfigBits {
    static let busMaster: UInt32 = 1 << 2
    static let intxDisable: UInt32 = 1 << 10
}

/// MSI-X Message Control bits, as they sit in the capability's first word (control in 31:16).
enum MSIXControlBits {
    /// MSI-X Enable (Message Control bit 15).
    static let enable: UInt32 = 1 << 31
    /// Function Mask (Message Control bit 14): no vector sends while set.
    static let functionMask: UInt32 = 1 << 30
    /// The bits software writes.
    static let writable: UInt32 = enable | functionMask
}
