import CShims
import PMDCore
#if canImport(Glibc)
import Glibc
#endif

/// BAR0 of a simulated VF: 16 KiB of page-aligned memory that the driver reads and writes
/// with the same volatile 32-bit accesses it uses on a real BAR.
///
/// The model cannot trap the raw window's accesses, so it polls what the driver wrote there
/// (ring programming, queue enables, tails). The control registers' accesses come through
/// `ControlRegisterSemantics` instead, which gives each its silicon effect. Where the model
/// changes a register the driver also writes (mailbox control, queue enable bits) it uses
/// compare-and-swap, so that a driver access between the model's load and store is never lost.
final class RegisterFile: @unchecked Sendable {
    // @unchecked: the memory is shared on purpose between the driver's thread and the device
    // engine, as a real BAR is; every access is a volatile or atomic 32-bit access.

    /// Size of BAR0: 16 KiB (QEMU's igb VF; the ixgbe VF's size is not confirmed, ixgbevf.md §2,
    /// igbvf.md §2).
    static let length = 16 * 1024
    /// First byte.
    let base: UnsafeMutableRawPointer

    init() {
        var p: UnsafeMutableRawPointer?
        precondition(posix_memalign(&p, 4096, Self.length) == 0, "cannot allocate a simulated BAR0")
        base = p!
        memset(base, 0, Self.length)
    }

    deinit { free(base) }

    /// The window a driver uses.
    var window: RegisterWindow { RegisterWindow(base: base, length: Self.length) }

    /// Volatile load.
    @inline(__always) func read(_ offset: Int) -> UInt32 { vfpmd_load_acquire32(base + offset) }
    /// Volatile store.
    @inline(__always) func write(_ offset: Int, _ value: UInt32) { vfpmd_store_release32(base + offset, value) }

    /// Atomically applies `transform` to the register (retrying when the driver wrote in between);
    /// returns the value it replaced.
    @discardableResult
    func update(_ offset: Int, _ transform: (UInt32) -> UInt32) -> UInt32 {
        while true {
            let old = read(offset)
            if vfpmd_cas32(base + offset, old, transform(old)) != 0 { return old }
        }
    }

    /// Sets `bits` atomically.
    func setBits(_ offset: Int, _ bits: UInt32) { update(offset) { $0 | bits } }
    /// Clears `bits` atomically.
    func clearBits(_ offset: Int, _ bits: UInt32) { update(offset) { $0 & ~bits } }

    /// Every byte to `byte` (0xFF models a removed device: all reads return all ones).
    func fill(_ byte: UInt8) { memset(base, Int32(byte), Self.length) }
}
