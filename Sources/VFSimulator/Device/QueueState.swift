/// The device's own state of one descriptor ring (RX or TX), kept by the engine apart from the
/// registers the driver sees.
struct QueueState {
    /// The queue runs: its enable was acknowledged and it was not stopped.
    var enabled = false
    /// The driver asked for an enable; the read-back bit rises at `enableAt`.
    var enablePending = false
    var enableAt: UInt64 = 0
    /// The queue control value the model left while the enable is pending (ENABLE cleared):
    /// any other value means the driver wrote the register again.
    var pendingControl: UInt32 = 0
    /// Stopped by the device after an IOMMU fault or a malicious-driver event, until re-enabled.
    var halted = false
    /// Disabled by the device (PF reset), not by the driver: until the driver enables the queue
    /// again or resets the VF, its tail writes are those of a driver that has not yet noticed,
    /// not an enable-order mistake.
    var stoppedByDevice = false
    /// Ring base, length as programmed when enabled; the host address of the ring.
    var baseLow: UInt32 = 0
    var baseHigh: UInt32 = 0
    var lengthBytes: UInt32 = 0
    var ring: UnsafeMutableRawPointer?
    var count = 0
    /// IOMMU generation the ring address was translated at.
    var generation: UInt64 = 0
    /// Next descriptor the device processes.
    var head = 0
    /// RX: the tail register as the current receive burst read it (at the queue's first frame).
    var burstTail = 0
    /// Tail register value when the queue last left the enabled state (to see early tail writes).
    var tailBaseline: UInt32 = 0
    /// A violation was already recorded for ring registers written while enabled.
    var ringWriteReported = false
    /// Hint into the IOMMU table for buffer translations.
    var hint = 0
    /// RX: bytes per buffer (SRRCTL), VLAN strip (RXDCTL.VME), per-queue max length (0 = none).
    var bufferSize = 2048
    var vlanStrip = false
    var maxLength = 0
    /// TX: context slots seen since enable (bit per IDX) and their VLAN tags.
    var contextValid: UInt8 = 0
    var contextVLAN: (UInt16, UInt16, UInt16, UInt16, UInt16, UInt16, UInt16, UInt16) = (0, 0, 0, 0, 0, 0, 0, 0)
    /// TX: per context slot, MACLEN | IPLEN << 16 | TUCMD << 32 (for checksum insertion).
    var contextHeaders: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)
    /// RX faults to apply to the next write-back.
    var nextLengthOverflow = false
    var nextMissingEOP = false

    mutating func setContextVLAN(_ idx: Int, _ tag: UInt16) {
        withUnsafeMutableBytes(of: &contextVLAN) { $0.storeBytes(of: tag, toByteOffset: (idx & 7) * 2, as: UInt16.self) }
    }

    mutating func setContextHeaders(_ idx: Int, _ value: UInt64) {
        withUnsafeMutableBytes(of: &contextHeaders) { $0.storeBytes(of: value, toByteOffset: (idx & 7) * 8, as: UInt64.self) }
    }

    func contextHeaders(_ idx: Int) -> UInt64 {
        withUnsafeBytes(of: contextHeaders) { $0.load(fromByteOffset: (idx & 7) * 8, as: UInt64.self) }
    }

    /// One context slot's checksum fields packed as `contextHeaders` keeps them.
    static func packContextHeaders(macLength: UInt32, ipLength: UInt32, tucmd: UInt32) -> UInt64 {
        UInt64(macLength) | UInt64(ipLength) << 16 | UInt64(tucmd) << 32
    }

    /// MACLEN, IPLEN and TUCMD of a packed context slot.
    static func unpackContextHeaders(_ v: UInt64) -> (macLength: Int, ipLength: Int, tucmd: UInt32) {
        (Int(v & 0xFFFF), Int((v >> 16) & 0xFFFF), UInt32(truncatingIfNeeded: v >> 32))
    }

    func contextVLAN(_ idx: Int) -> UInt16 {
        withUnsafeBytes(of: contextVLAN) { $0.load(fromByteOffset: (idx & 7) * 2, as: UInt16.self) }
    }

    /// Back to a disabled queue that keeps its tail baseline.
    mutating func disable(tail: UInt32) {
        enabled = false
        enablePending = false
        halted = false
        ring = nil
        tailBaseline = tail
        contextValid = 0
        nextLengthOverflow = false
        nextMissingEOP = false
    }
}

/// A protocol violation the model saw in what the driver wrote.
public struct ProtocolViolation: Sendable, Equatable, CustomStringConvertible {
    /// The kinds the model checks.
    public enum Kind: String, Sendable {
        /// A tail register was written before the queue's enable bit read back set.
        case tailWrittenBeforeEnable = "tail written before the queue enable was acknowledged"
        /// A ring base not aligned to 128 bytes.
        case ringBaseMisaligned = "ring base not 128-byte aligned"
        /// A ring length of 0 or not a multiple of 128 bytes.
        case ringLengthInvalid = "ring length not a non-zero multiple of 128 bytes"
        /// Ring base or length changed while the queue was enabled.
        case ringRegisterWrittenWhileEnabled = "ring base or length written while the queue was enabled"
        /// A tail beyond the ring.
        case tailOutOfRange = "tail beyond the end of the ring"
        /// X550 malicious driver detection: a TX data descriptor without CC or without a prior
        /// context descriptor of its index. The queue was stopped.
        case txMissingContext = "TX data descriptor without check-context bit or prior context descriptor (MDD)"
        /// A TX descriptor that is not an advanced data or context descriptor.
        case txLegacyDescriptor = "TX descriptor not in advanced format"
        /// A TX packet longer than the device can gather.
        case txPacketTooLong = "TX packet longer than 16 KiB"
    }

    /// What was wrong.
    public var kind: Kind
    /// Queue index (or -1 for the whole function).
    public var queue: Int
    /// The values seen.
    public var detail: String

    public var description: String { "queue \(queue): \(kind.rawValue) (\(detail))" }
}
