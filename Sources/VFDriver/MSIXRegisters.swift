import PMDCore

/// The registers interrupt mode programs beyond poll mode's mask and cause: mask set,
/// auto-clear and auto-mask enables, the cause-to-vector maps and the throttling registers,
/// one bit or one register per MSI-X vector.
///
/// 82599 VF: VTEIMS 0x0108, VTEIAC 0x0110, VTEIAM 0x0114, VTIVAR(i) 0x0120 + 4·i,
/// VTIVAR_MISC 0x0140, VTEITR(v) 0x0820 + 4·v with the interval in bits 11:3 counted in
/// 2.048 µs (82599 datasheet §7.3.2, §8.3 and §8.2.3.5.x EITR; ixgbevf reference §3.2, §3.7).
/// 82576 VF: EIMS 0x1524, EIAC 0x152C, EIAM 0x1530, IVAR0 0x1700, IVAR_MISC 0x1740,
/// EITR(v) 0x1680 + 4·v with the interval in bits 14:2 counted in 1 µs (82576 datasheet
/// §7.3.2 and §8.8; igbvf reference §3.1).
public struct MSIXRegisters: Sendable, Equatable {
    /// Mask set: a written 1 enables the vector (VTEIMS / EIMS).
    public var maskSet: Int
    /// Auto-clear enables: a sent message clears the vector's cause (VTEIAC / EIAC).
    public var autoClear: Int
    /// Auto-mask enables: a sent message masks the vector until EIMS enables it again
    /// (VTEIAM / EIAM).
    public var autoMask: Int
    /// First queue-to-vector map register; two queues per register, 8-bit entries, RX at
    /// 16·(q & 1), TX 8 bits above (VTIVAR(0) / IVAR0).
    public var vectorMap: Int
    /// The mailbox ("other") cause's map entry, bits 7:0 (VTIVAR_MISC / IVAR_MISC).
    public var mailboxVectorMap: Int
    /// First throttling register, one per vector, 4 bytes apart (VTEITR(0) / EITR(0)).
    public var throttle: Int
    /// Lowest bit and width mask of the interval field in a throttling register.
    public var throttleShift: UInt32, throttleMask: UInt32
    /// Nanoseconds per interval step.
    public var throttleUnitNanoseconds: Int

    /// A map entry's valid bit; the vector number sits below it.
    public static let entryValid: UInt32 = 0x80

    /// 82599, X540 and X550 VFs.
    public static let ixgbe = MSIXRegisters(
        maskSet: 0x0108, autoClear: 0x0110, autoMask: 0x0114, vectorMap: 0x0120, mailboxVectorMap: 0x0140,
        throttle: 0x0820, throttleShift: 3, throttleMask: 0x1FF, throttleUnitNanoseconds: 2048)
    /// 82576 and I350 VFs.
    public static let igb = MSIXRegisters(
        maskSet: 0x1524, autoClear: 0x152C, autoMask: 0x1530, vectorMap: 0x1700, mailboxVectorMap: 0x1740,
        throttle: 0x1680, throttleShift: 2, throttleMask: 0x1FFF, throttleUnitNanoseconds: 1000)

    /// The throttling register's value for at least `microseconds` between two messages (0:
    /// no throttling), rounded to the nearest step and capped at the field's largest.
    public func throttleValue(microseconds: Int) -> UInt32 {
        let steps = (microseconds * 1000 + throttleUnitNanoseconds / 2) / throttleUnitNanoseconds
        return UInt32(min(steps, Int(throttleMask))) << throttleShift
    }

    /// Offset of vector `v`'s throttling register.
    public func throttle(vector v: Int) -> Int { throttle + 4 * v }

    /// The map register and bit position of RX queue `q`'s entry.
    public func receiveEntry(queue q: Int) -> (offset: Int, shift: UInt32) {
        (vectorMap + 4 * (q / 2), UInt32(16 * (q & 1)))
    }
}

extension VFFamilyTable {
    /// The family's interrupt-mode registers.
    public var msix: MSIXRegisters { family == .ixgbevf ? .ixgbe : .igb }
}

/// The MSI-X capability in configuration space (PCI Local Bus Specification 3.0 §6.7 and
/// §6.8.2): found through the capability list (status bit 4, pointer at 0x34), ID 0x11, the
/// Message Control word in bits 31:16 of its first dword with MSI-X Enable at bit 15 and
/// Function Mask at bit 14.
enum MSIXCapability {
    /// Status register bit 4 (bit 20 of the dword at 0x04): the function has a capability list.
    static let capabilityListBit: UInt32 = 1 << 20
    /// Offset of the capabilities pointer.
    static let listPointer = 0x34
    /// Capability ID of MSI-X.
    static let id: UInt32 = 0x11
    /// MSI-X Enable, in the capability's first dword.
    static let enable: UInt32 = 1 << 31
    /// Function Mask, in the capability's first dword.
    static let functionMask: UInt32 = 1 << 30

    /// Offset of the MSI-X capability, nil when the function lists none.
    static func find(in function: any PCIFunction) throws -> Int? {
        guard try function.readConfig32(at: PCIConfig.commandOffset) & capabilityListBit != 0 else { return nil }
        var offset = Int(try function.readConfig32(at: listPointer) & 0xFC)
        var visited = 0
        while offset >= 0x40 && visited < 48 {
            let header = try function.readConfig32(at: offset)
            if header & 0xFF == id { return offset }
            offset = Int(header >> 8 & 0xFC)
            visited += 1
        }
        return nil
    }

    /// Sets or clears MSI-X Enable (and clears Function Mask) at `offset`.
    static func setEnabled(_ enabled: Bool, at offset: Int, in function: any PCIFunction) throws {
        let word = try function.readConfig32(at: offset) & ~(enable | functionMask)
        try function.writeConfig32(enabled ? word | enable : word, at: offset)
    }
}
