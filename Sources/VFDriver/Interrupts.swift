import CShims
#if canImport(Glibc)
import Glibc
#endif
import PMDCore

/// The eventfds of a port in interrupt mode: one per RX queue (vector q), and one for the
/// mailbox's "other" cause (the vector after the queues').
public struct InterruptEventFDs: Equatable, Sendable {
    /// The eventfd of RX queue q's vector at index q.
    public let receive: [Int32]
    /// The eventfd of the mailbox vector: readable when the PF posted a message or reset.
    public let mailbox: Int32

    /// Every descriptor, vector order.
    var all: [Int32] { receive + [mailbox] }

    /// Reads and resets an eventfd's count; returns the messages sent since the last read (0
    /// when none). The fds are non-blocking.
    public static func take(_ fd: Int32) -> UInt64 {
        var count: UInt64 = 0
        return read(fd, &count, MemoryLayout<UInt64>.size) == MemoryLayout<UInt64>.size ? count : 0
    }
}

/// What a port in interrupt mode holds: the eventfds it made and where the MSI-X capability is.
struct MSIXAttachment {
    let fds: InterruptEventFDs
    let capability: Int
}

/// Interrupt mode (MSI-X): each RX queue's cause mapped to its own vector, the mailbox cause
/// to the next one, queue vectors auto-cleared and auto-masked on delivery so one message
/// disarms the queue until the poller arms it again (82599 datasheet §7.3.1.2, §7.3.4 and §8.3
/// VTIVAR, VTIVAR_MISC, VTEIAC, VTEIAM, VTEITR; 82576 datasheet §7.3.2, §7.3.4 and §8.8 IVAR,
/// IVAR_MISC, EIAC, EIAM, EITR).
///
/// The protocol of a polling thread, so that no frame is left waiting in a sleeping queue:
/// 1. receive until a poll finds nothing (and, for adaptive polling, a while longer);
/// 2. `armInterrupt(queue:)`: clears the queue's stale cause and enables its vector;
/// 3. `hasReceivedFrame(queue:)`: a frame that completed before the arm raised no message, so
///    re-check the ring; if it holds one, go back to 1 without sleeping;
/// 4. poll(2) on `interruptEventFDs.receive[queue]`, then `InterruptEventFDs.take` it and go to 1.
/// When the mailbox eventfd becomes readable, call `serviceMailboxInterrupt()` with the queues
/// quiet: it runs the PF-message handling of `watchdog()` (a PF reset re-initialises the port).
extension VFPort {
    /// The eventfds to wait on while the port runs in interrupt mode; nil in poll mode or when
    /// the port is not started.
    public var interruptEventFDs: InterruptEventFDs? { msix?.fds }

    /// Enables queue `queue`'s vector (after clearing its cause, so that only a frame written
    /// back from now on sends a message). Then check `hasReceivedFrame(queue:)` before sleeping.
    public func armInterrupt(queue: Int) {
        guard msix != nil, queuesRunning else { return }
        let bit = UInt32(1) << UInt32(queue)
        controlRegisters.write(table.interruptCause, bit)
        controlRegisters.write(table.msix.maskSet, bit)
    }

    /// Whether RX queue `queue` holds a completed descriptor at the slot the next receive
    /// takes (its DD bit), without taking it.
    public func hasReceivedFrame(queue: Int) -> Bool {
        guard queuesRunning, queue >= 0, queue < queueCount else { return false }
        return rxQueues[queue].hasCompletedDescriptor
    }

    /// Takes the mailbox eventfd's messages and runs the watchdog (PF messages, a PF reset's
    /// re-initialisation, the link). Call with no burst running, like `updateStats()`. Returns
    /// the messages the mailbox vector sent since the last call.
    @discardableResult
    public func serviceMailboxInterrupt() -> UInt64 {
        guard let fds = msix?.fds else { return 0 }
        let messages = InterruptEventFDs.take(fds.mailbox)
        watchdog()
        return messages
    }

    /// Makes one eventfd per vector, attaches them to the function and enables MSI-X. Throws,
    /// having released everything, when the function has no MSI-X or too few vectors.
    func attachInterrupts() throws {
        guard msix == nil else { return }
        let vectors = queueCount + 1
        guard let notifications = function as? any InterruptNotifications else {
            throw VFDriverError.interruptsUnavailable(address: function.address, reason: "its bus delivers no MSI-X interrupts to the process")
        }
        guard notifications.interruptVectorCount >= vectors else {
            throw VFDriverError.tooFewInterruptVectors(address: function.address, queues: queueCount, vectors: notifications.interruptVectorCount)
        }
        guard let capability = try MSIXCapability.find(in: function) else {
            throw VFDriverError.interruptsUnavailable(address: function.address, reason: "its configuration space lists no MSI-X capability")
        }
        var made: [Int32] = []
        do {
            for _ in 0..<vectors {
                let fd = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
                guard fd >= 0 else {
                    throw VFDriverError.interruptsUnavailable(address: function.address, reason: "eventfd(2) failed: \(String(cString: strerror(errno)))")
                }
                made.append(fd)
            }
            try notifications.setInterruptEventFDs(made)
            try MSIXCapability.setEnabled(true, at: capability, in: function)
        } catch {
            try? notifications.setInterruptEventFDs([])
            for fd in made { Glibc.close(fd) }
            throw error
        }
        msix = MSIXAttachment(fds: InterruptEventFDs(receive: Array(made.dropLast()), mailbox: made[made.count - 1]), capability: capability)
    }

    /// Maps the causes to their vectors, sets moderation, auto-clear and auto-mask, enables the
    /// mailbox vector; the queue vectors wait for `armInterrupt(queue:)`. Run after every
    /// (re)start of the queues, as a VF reset clears these registers.
    func programInterrupts() {
        guard msix != nil, let settings = configuration.interrupts else { return }
        let regs = table.msix
        let mailboxVector = queueCount
        for q in 0..<queueCount {
            let (offset, shift) = regs.receiveEntry(queue: q)
            let kept = controlRegisters.read(offset) & ~(0xFF << shift)
            controlRegisters.write(offset, kept | (MSIXRegisters.entryValid | UInt32(q)) << shift)
            controlRegisters.write(regs.throttle(vector: q), regs.throttleValue(microseconds: settings.moderationMicroseconds))
        }
        controlRegisters.write(regs.mailboxVectorMap, MSIXRegisters.entryValid | UInt32(mailboxVector))
        controlRegisters.write(regs.throttle(vector: mailboxVector), 0)
        let queueVectors = UInt32(1) << UInt32(queueCount) - 1
        let mailboxBit = UInt32(1) << UInt32(mailboxVector)
        controlRegisters.write(regs.autoClear, queueVectors | mailboxBit)
        controlRegisters.write(regs.autoMask, queueVectors)
        controlRegisters.write(regs.maskSet, mailboxBit)
    }

    /// Disables MSI-X, detaches the eventfds and closes them.
    func detachInterrupts() {
        guard let attached = msix else { return }
        msix = nil
        if state != .removed {
            try? MSIXCapability.setEnabled(false, at: attached.capability, in: function)
        }
        try? (function as? any InterruptNotifications)?.setInterruptEventFDs([])
        for fd in attached.fds.all { Glibc.close(fd) }
    }
}

extension RxQueue {
    /// Whether the slot the next receive takes is done (DD), read without taking it.
    var hasCompletedDescriptor: Bool {
        vfpmd_load_acquire32(ring + (next &<< Layout.sizeShift) + Layout.rxStatusOffset) & RxStatus.descriptorDone != 0
    }
}
