/// A VF's PCI Express configuration space (4 KiB): identity, command register, class code.
/// A VF's BARs read 0 (their addresses live in the PF's SR-IOV capability); of the command
/// register only Bus Master Enable and INTx Disable are writable (Memory Space Enable is
/// hard-wired for VFs).
struct ConfigSpace {
    /// Bytes of configuration space.
    static let size = 4096
    /// Command register bits the model stores.
    static let writableCommandBits: UInt32 = PCIConfigBits.busMaster | PCIConfigBits.intxDisable

    private var words = [UInt32](repeating: 0, count: ConfigSpace.size / 4)

    mutating func setIdentity(vendor: UInt16, device: UInt16) {
        words[0] = UInt32(vendor) | UInt32(device) << 16
        words[2] = 0x0200_0001  // class 02 (network) 00 (Ethernet), revision 1
        words[11] = UInt32(vendor)  // subsystem vendor; subsystem id 0
    }

    func read(_ offset: Int) -> UInt32 { words[offset / 4] }

    mutating func write(_ value: UInt32, at offset: Int) {
        guard offset == 4 else { return }
        words[1] = (words[1] & ~Self.writableCommandBits) | (value & Self.writableCommandBits)
    }

    /// Whether the device may master the bus (DMA).
    var busMasterEnabled: Bool { words[1] & PCIConfigBits.busMaster != 0 }
}

/// PCI command register bits.
enum PCIConfigBits {
    static let busMaster: UInt32 = 1 << 2
    static let intxDisable: UInt32 = 1 << 10
}
