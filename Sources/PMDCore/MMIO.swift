import CShims

/// A device's register window (a mapped BAR), read and written only with the C shim's volatile
/// 32-bit accesses. Offsets are byte offsets from the start of the BAR.
@frozen
public struct RegisterWindow: @unchecked Sendable {
    /// First byte of the window.
    public let base: UnsafeMutableRawPointer
    /// Length of the window in bytes.
    public let length: Int

    /// A window of `length` bytes at `base`.
    @inlinable
    public init(base: UnsafeMutableRawPointer, length: Int) {
        self.base = base
        self.length = length
    }

    /// Volatile 32-bit load of the register at `offset`.
    @inlinable
    public func read(_ offset: Int) -> UInt32 {
        vfpmd_mmio_read32(base + offset)
    }

    /// Volatile 32-bit store to the register at `offset`.
    @inlinable
    public func write(_ offset: Int, _ value: UInt32) {
        vfpmd_mmio_write32(base + offset, value)
    }

    /// Read-modify-write: sets `bits` in the register at `offset`.
    @inlinable
    public func set(_ offset: Int, bits: UInt32) {
        write(offset, read(offset) | bits)
    }

    /// Read-modify-write: clears `bits` in the register at `offset`.
    @inlinable
    public func clear(_ offset: Int, bits: UInt32) {
        write(offset, read(offset) & ~bits)
    }
}

/// CPU memory barriers, named for what a driver needs them for. (A descriptor's done bit is
/// read with acquire semantics instead of a read barrier: no later load passes it.)
public enum Barrier {
    /// Every earlier store (descriptors) is visible to the device before a later one (a tail write).
    @inlinable public static func beforeTailWrite() { vfpmd_write_fence() }
}

/// The CPU's time stamp counter.
public enum TSC {
    /// Current TSC value.
    @inlinable public static func now() -> UInt64 { vfpmd_rdtsc() }

    /// Ticks per second, measured once against the monotonic clock (about 20 ms).
    public static let frequency: Double = {
        let c0 = MonotonicClock.nanoseconds()
        let t0 = vfpmd_rdtsc()
        var c1 = c0
        while c1 - c0 < 20_000_000 { c1 = MonotonicClock.nanoseconds() }
        let t1 = vfpmd_rdtsc()
        return Double(t1 &- t0) * 1e9 / Double(c1 - c0)
    }()
}

/// Spin-wait hint for busy loops.
@inlinable public func cpuRelax() { vfpmd_pause() }

/// Prefetch the cache line at `address` for reading.
@inlinable public func prefetch(_ address: UnsafeRawPointer) { vfpmd_prefetch(address) }
