/// What a driver needs from a bus, and nothing more: the function's identity, its register
/// window (BAR0), its configuration space, a way to make DMA memory reachable by the device,
/// a function reset, and the bus's notion of waiting.
///
/// Implemented by the VFIO layer (a real VF) and by the simulator (a modelled VF). A driver
/// written against this protocol makes the same register accesses on both.
public protocol PCIFunction: AnyObject, Sendable {
    /// Where the function is: a PCI address such as `0000:03:10.0`, or a simulator name.
    var address: String { get }
    /// PCI vendor ID (0x8086 for Intel).
    var vendorID: UInt16 { get }
    /// PCI device ID (for example 0x10ED for an 82599 VF).
    var deviceID: UInt16 { get }
    /// BAR0, mapped: the VF's registers.
    var bar0: RegisterWindow { get }
    /// The control-path registers of BAR0 (reset, mailbox, interrupts, status, statistics):
    /// plain volatile accesses to `bar0` on hardware (the default), a model of their semantics
    /// where BAR0 is memory.
    var controlRegisters: ControlRegisters { get }

    /// Reads the 32-bit configuration-space word at `offset` (a multiple of 4).
    func readConfig32(at offset: Int) throws -> UInt32
    /// Writes the 32-bit configuration-space word at `offset` (a multiple of 4).
    func writeConfig32(_ value: UInt32, at offset: Int) throws

    /// Makes `region` reachable by the device and records its IOVA in it. Mapping a region
    /// that is already mapped in the same I/O address space returns the same IOVA and adds a
    /// reference (VFs of one container share one address space).
    @discardableResult
    func mapDMA(_ region: DMAMemory) throws -> UInt64
    /// Drops one reference to the mapping of `region`; the last one unmaps it.
    func unmapDMA(_ region: DMAMemory) throws
    /// The size of the segments the bus addresses a DMA region in when each has an address of
    /// its own (no IOMMU: a hugepage, at its physical address); nil when a mapped region is one
    /// contiguous range. A driver lays its pools out so that no buffer crosses a segment
    /// (`Mempool(segmentSize:)`) and keeps each ring inside one.
    var dmaSegmentSize: Int? { get }

    /// Resets the function (function-level reset where the bus offers it).
    func reset() throws

    /// Waits `microseconds` as the device's time runs: sleeping for hardware, stepping the
    /// model for a simulated device driven from the caller's thread.
    func delay(microseconds: Int)

    /// DMA accesses the I/O address space refused for this function (IOMMU faults), where the
    /// bus can see them; 0 where it cannot (VFIO does not report faults to user space).
    var dmaFaults: Int { get }
}

/// PCI configuration-space offsets and bits used by drivers.
public enum PCIConfig {
    /// Command register (16 bit) at offset 4, in the low half of the word at 4.
    public static let commandOffset = 0x04
    /// Command: memory space enable.
    public static let memorySpaceEnable: UInt32 = 1 << 1
    /// Command: bus master enable; needed before any DMA.
    public static let busMasterEnable: UInt32 = 1 << 2
}

extension PCIFunction {
    /// The function's vendor and device ID as `vvvv:dddd`.
    public var pciID: String {
        String(format4: vendorID) + ":" + String(format4: deviceID)
    }

    /// Sets Bus Master Enable (and Memory Space Enable) in the PCI command register.
    public func enableBusMaster() throws {
        let word = try readConfig32(at: PCIConfig.commandOffset)
        let command = word & 0xFFFF
        let wanted = command | PCIConfig.busMasterEnable | PCIConfig.memorySpaceEnable
        if wanted != command {
            // The upper half is the status register: writing 0 there clears no status bit.
            try writeConfig32(wanted, at: PCIConfig.commandOffset)
        }
    }

    /// Default: the device applies its registers' semantics; accesses go straight to `bar0`.
    public var controlRegisters: ControlRegisters { ControlRegisters(window: bar0) }

    /// Default: no faults are visible.
    public var dmaFaults: Int { 0 }

    /// Default: a mapped region is one contiguous range (an IOMMU's).
    public var dmaSegmentSize: Int? { nil }
}

extension String {
    /// `value` as four lowercase hex digits.
    public init(format4 value: UInt16) {
        let hex = String(value, radix: 16)
        self = String(repeating: "0", count: 4 - hex.count) + hex
    }
}
