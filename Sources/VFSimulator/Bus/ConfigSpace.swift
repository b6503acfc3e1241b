/// A VF's PCI Express configuration space (4 KiB): identity, command register, class code, in
/// the type 0 header layout of the PCI specification. A VF's BARs read 0 (their addresses live
/// in the PF's SR-IOV capability); of the command register only Bus Master Enable and INTx
/// Disable are writable (Memory Space Enable is hard-wired for VFs; ixgbevf.md §2, igbvf.md §2).
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

    mutating func setIdentity(vendor: UInt16, device: UInt16) {
        words[Self.identityOffset / 4] = UInt32(vendor) | UInt32(device) << 16
        words[Self.classOffset / 4] = Self.classAndRevision
        words[Self.subsystemOffset / 4] = UInt32(vendor)  // subsystem vendor; subsystem id 0
    }

    func read(_ offset: Int) -> UInt32 { words[offset / 4] }

    mutating func write(_ value: UInt32, at offset: Int) {
        guard offset == Self.commandOffset else { return }
        let i = Self.commandOffset / 4
        words[i] = (words[i] & ~Self.writableCommandBits) | (value & Self.writableCommandBits)
    }

    /// Whether the device may master the bus (DMA).
    var busMasterEnabled: Bool { words[Self.commandOffset / 4] & PCIConfigBits.busMaster != 0 }
}

/// PCI command register bits: Bus Master Enable (2), Interrupt Disable (10).
enum PCIConfigBits {
    static let busMaster: UInt32 = 1 << 2
    static let intxDisable: UInt32 = 1 << 10
}
