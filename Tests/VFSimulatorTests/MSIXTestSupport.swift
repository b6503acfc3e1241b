import CShims
import Foundation
import PMDCore
import TestSupport
@testable import VFSimulator

/// Three eventfds a test attaches to a VF's MSI-X vectors, read the way an application reads
/// them (read(2) of the 8-byte count, non-blocking), and closed at the end.
final class VectorEventFDs {
    let fds: [Int32]

    init() {
        fds = (0..<3).map { _ in eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC)) }
        precondition(fds.allSatisfy { $0 >= 0 }, "cannot make an eventfd")
    }

    deinit { for fd in fds { close(fd) } }

    /// The messages vector `v` sent since the last take (read(2) resets the count); 0 when the
    /// eventfd is not readable.
    func take(_ v: Int) -> UInt64 {
        var count: UInt64 = 0
        let n = read(fds[v], &count, MemoryLayout<UInt64>.size)
        return n == MemoryLayout<UInt64>.size ? count : 0
    }

    /// Descriptors of this process that refer to these eventfds (ours and any duplicates), found
    /// by the eventfd id the kernel shows in /proc/self/fdinfo.
    func openReferences() -> Int {
        OpenEventFDs.references(to: Set(fds.compactMap { OpenEventFDs.id(of: String($0)) }))
    }
}

extension Rig {
    /// The MSI-X capability's first word (ID, next pointer, Message Control).
    var msixCapabilityOffset: Int { ConfigSpace.msixOffset }

    /// Sets or clears MSI-X Enable (and Function Mask) as a driver does, then lets the model see it.
    func setMSIX(enabled: Bool, functionMask: Bool = false) throws {
        let word = try vf.readConfig32(at: msixCapabilityOffset) & ~MSIXControlBits.writable
        try vf.writeConfig32(word | (enabled ? MSIXControlBits.enable : 0) | (functionMask ? MSIXControlBits.functionMask : 0),
                             at: msixCapabilityOffset)
        settle()
    }

    /// Maps RX (or TX) queue `q`'s cause to vector `v` with the valid bit.
    func mapQueue(_ q: Int, tx: Bool = false, to v: Int) {
        let (offset, shift) = regs.ivarEntry(queue: q, tx: tx)
        let old = bar.read(offset) & ~(IVARBits.entry << shift)
        bar.write(offset, old | (IVARBits.valid | UInt32(v)) << shift)
    }

    /// Maps the mailbox cause to vector `v` with the valid bit.
    func mapMailbox(to v: Int) { bar.write(regs.ivarMisc, IVARBits.valid | UInt32(v)) }

    /// Attaches `fds`, enables MSI-X, maps RX queue 0 to `vector` and unmasks the vectors in
    /// `unmask`.
    func armReceiveInterrupt(_ fds: VectorEventFDs, vector: Int = 1, unmask: UInt32 = 0x7) throws {
        try vf.setInterruptEventFDs(fds.fds)
        try setMSIX(enabled: true)
        mapQueue(0, to: vector)
        control.write(regs.eims, unmask)
        settle()
    }

    /// The interrupt cause register as it is, without the clear a VF read does.
    var causes: UInt32 { bar.read(regs.eicr) }

    /// Puts `frames` on the wire (a new source) and lets the model take them.
    func receive(_ frames: [[UInt8]]) {
        vf.connect(rx: MemorySource(frames: frames))
        settle()
    }
}
