import PMDCore
#if canImport(Glibc)
import Glibc
#endif

/// The VF's interrupts: causes the model raises, mapped to vectors by the VF's map registers,
/// and their MSI-X messages, written to the eventfds attached to the vectors.
///
/// Causes (82599 datasheet §7.3.4 and 82576 datasheet §7.3.4 in their MSI-X mode; the maps of
/// ixgbevf.md §3.2 and §3.7, igbvf.md §3.1): an RX queue's cause when the model wrote back a
/// received descriptor (DD), a TX queue's when it wrote back a transmit descriptor's DD (RS),
/// the mailbox cause when the PF posts a message, acknowledges the VF's or signals a reset
/// (PFSTS, PFACK, RSTI, RSTD). A cause sets the EICR bit of the vector its map entry names
/// when the entry's valid bit is set; an unmapped cause sets nothing. The model checks the
/// maps once per burst that wrote back descriptors, never per frame. Delivery is
/// `MSIXDelivery`'s.
extension SimulatedVF: InterruptNotifications {
    /// MSI-X vectors of the VF: 3 (ixgbevf.md §2, igbvf.md §2).
    public var interruptVectorCount: Int { MSIXDelivery.vectors }

    /// Attaches an eventfd per vector (a duplicate of each is kept and closed when the vector
    /// is detached or the VF goes away; the caller keeps and closes its own); takes effect at
    /// the engine's next step.
    public func setInterruptEventFDs(_ eventFDs: [Int32?]) throws {
        guard eventFDs.count <= interruptVectorCount else {
            throw SimulatorError.tooManyInterruptVectors(given: eventFDs.count, vectors: interruptVectorCount)
        }
        var ours: [Int32] = []
        for fd in eventFDs {
            guard let fd else { ours.append(-1); continue }
            let copy = fcntl(fd, F_DUPFD_CLOEXEC, 0)
            guard copy >= 0 else {
                MSIXDelivery.close(ours)
                throw SimulatorError.badEventFD(fd)
            }
            ours.append(copy)
        }
        // A set the engine has not taken yet is replaced unseen: close it here.
        let replaced = shared.withLock { s -> [Int32] in
            defer { s.pendingEventFDs = ours }
            return s.pendingEventFDs ?? []
        }
        MSIXDelivery.close(replaced)
        controlVersion.add(1, ordering: .releasing)
    }

    /// MSI-X messages vector `v` sent so far (0 for a vector the VF does not have).
    public func interruptMessages(vector v: Int) -> UInt64 {
        guard v >= 0, v < MSIXDelivery.vectors else { return 0 }
        return msix.messages(vector: v)
    }

    /// Raises the RX (or TX) cause of every queue whose bit is set in `queues`.
    func raiseQueueCauses(_ queues: UInt32, tx: Bool) {
        var causes: UInt32 = 0
        var rest = queues
        var q = 0
        while rest != 0 {
            if rest & 1 != 0 {
                let (offset, shift) = map.ivarEntry(queue: q, tx: tx)
                causes |= vectorBit(registers.read(offset) >> shift & IVARBits.entry)
            }
            rest >>= 1
            q &+= 1
        }
        raise(causes)
    }

    /// Raises the mailbox cause (VTIVAR_MISC, IVAR_MISC).
    func raiseMailboxCause() {
        raise(vectorBit(registers.read(map.ivarMisc) & IVARBits.entry))
    }

    /// Sends the messages due at `now`; true when one went out.
    func sendInterrupts(now: UInt64) -> Bool {
        let events = controlSemantics.interruptEvents.exchange(0, ordering: .acquiring)
        return msix.deliver(events: events, now: now, registers: registers, map: map)
    }

    /// The EICR bit of a map entry's vector; 0 for an entry without its valid bit or naming a
    /// vector the VF does not have.
    private func vectorBit(_ entry: UInt32) -> UInt32 {
        guard entry & IVARBits.valid != 0 else { return 0 }
        let v = entry & IVARBits.vector
        return v < MSIXDelivery.vectors ? 1 << v : 0
    }

    /// Sets `causes` in EICR and hands them to the delivery as events.
    private func raise(_ causes: UInt32) {
        guard causes != 0 else { return }
        registers.setBits(map.eicr, causes)
        controlSemantics.interruptEvents.bitwiseOr(causes, ordering: .releasing)
    }
}
