import PMDCore

extension SimulatedVF {
    /// Faults a test can inject; each is applied at the engine's next step.
    public enum Fault: Sendable {
        /// The PF resets: the VF loses clear-to-send, its queues stop, RSTI is raised for
        /// `microseconds` of engine time, then dropped with RSTD raised.
        case pfReset(microseconds: Int)
        /// The PF withdraws clear-to-send and sends a control message (0x0100) without CTS,
        /// as a PF does when the administrator changes the VF's link state.
        case clearToSendLoss
        /// The physical link goes down / comes up (VFLINKS on ixgbe, STATUS on igb).
        case linkDown
        case linkUp(speedMbps: Int)
        /// The device disappears: every register reads 0xFFFFFFFF, config space too, DMA stops.
        /// (Control-register accesses see it at once; the model refills the rest of BAR0 with
        /// all ones at every step, so a driver's write there reads back until the next step.)
        case surpriseRemoval
        /// The PF stops answering the mailbox (no PFACK, no reply) while `true`.
        case mailboxSilence(Bool)
        /// The PF stops answering (as `mailboxSilence(true)`) at the first request of this
        /// message type, which it leaves unanswered; `mailboxSilence(false)` ends it.
        case mailboxSilenceFrom(messageType: UInt32)
        /// The PF NACKs these message types (instead of executing them); empty to stop.
        case nackMessages(Set<UInt32>)
        /// The next RX write-back on `queue` reports a length larger than its buffer.
        case rxLengthExceedsBuffer(queue: Int)
        /// The next RX write-back on `queue` lacks EOP.
        case rxMissingEOP(queue: Int)
        /// DD is written on the RX descriptor at the tail of `queue`, a slot the driver never posted.
        case rxDoneOnUnpostedSlot(queue: Int)
        /// The head registers (RX and TX) of `queue` jump `by` descriptors backwards.
        case headJumpsBack(queue: Int, by: Int)
        /// Every statistics register goes back by `by`.
        case statisticsGoBackwards(by: UInt64)
        /// The TX engine stops processing descriptors while `true`.
        case txStall(Bool)
        /// A function-level reset (what `reset()` does).
        case functionLevelReset
    }

    /// Injects `fault`; it takes effect at the engine's next step.
    public func inject(_ fault: Fault) {
        shared.withLock { s in
            s.faults.append(fault)
            if case .surpriseRemoval = fault { s.removed = true }
        }
        if case .surpriseRemoval = fault { controlSemantics.removed.store(true, ordering: .releasing) }
        controlVersion.add(1, ordering: .releasing)
    }

    /// Sets the physical link (a `.linkUp`/`.linkDown` fault).
    public func setLink(up: Bool, speedMbps: Int? = nil) {
        inject(up ? .linkUp(speedMbps: speedMbps ?? (family.isIxgbe ? 10_000 : 1000)) : .linkDown)
    }

    /// Applies one fault in the engine's thread.
    func apply(_ fault: Fault, now: UInt64) {
        switch fault {
        case let .pfReset(us):
            pfResetUntil = now &+ UInt64(max(1, us)) * 1000
            shared.withLock { s in s.responder.vfStateReset(view: &s.view, now: now) }
            pendingPFMessages.removeAll()
            for q in 0..<map.maxQueues { stopQueueByDevice(rx: true, q); stopQueueByDevice(rx: false, q) }
            registers.setBits(map.mailbox, MailboxBits.rsti)
            raiseMailboxCause()
        case .clearToSendLoss:
            shared.withLock { s in s.responder.vfStateReset(view: &s.view, now: now) }
            pendingPFMessages.append([PFMailboxMessage.pfControl])
        case .linkDown:
            link = .down
            writeLinkRegister()
        case let .linkUp(speed):
            link = LinkStatus(isUp: true, speedMbps: speed)
            writeLinkRegister()
        case .surpriseRemoval:
            removed = true
            registers.fill(0xFF)
        case let .mailboxSilence(on):
            silent = on
            if !on { silentFrom = nil }
        case let .mailboxSilenceFrom(type):
            silentFrom = type
        case let .nackMessages(types):
            nacked = types
        case let .rxLengthExceedsBuffer(q):
            rxQueues[q & Self.queueIndexMask].nextLengthOverflow = true
        case let .rxMissingEOP(q):
            rxQueues[q & Self.queueIndexMask].nextMissingEOP = true
        case let .rxDoneOnUnpostedSlot(q):
            markUnpostedSlotDone(q & Self.queueIndexMask)
        case let .headJumpsBack(q, by):
            for rx in [true, false] {
                let state = rx ? rxQueues[q & Self.queueIndexMask] : txQueues[q & Self.queueIndexMask]
                guard state.count > 0 else { continue }
                let back = ((state.head - by) % state.count + state.count) % state.count
                registers.write(rx ? map.rx(q, RegisterMap.head) : map.tx(q, RegisterMap.head), UInt32(back))
            }
        case let .statisticsGoBackwards(by):
            stats.rewind(by: by)
            stats.store(into: registers, map: map)
        case let .txStall(on):
            txStalled = on
        case .functionLevelReset:
            vfReset(now: now)
        }
    }

    /// Writes DD|EOP with a 60-byte length into the RX descriptor at the tail: a slot the
    /// device does not own.
    private func markUnpostedSlotDone(_ q: Int) {
        typealias W = AdvancedRxWriteBack
        let state = rxQueues[q]
        guard let ring = state.ring, state.count > 0 else { return }
        let tail = Int(registers.read(map.rx(q, RegisterMap.tail))) % state.count
        let d = ring + tail * RegisterMap.descriptorSize
        d.storeBytes(of: UInt64(0), toByteOffset: 0, as: UInt64.self)
        let status = UInt64(W.dd | W.eop) | UInt64(EthernetFraming.minimumLength) << W.lengthShift
        d.storeBytes(of: status, toByteOffset: W.statusOffset, as: UInt64.self)
    }

    /// Queue numbers in faults wrap to the queues the model keeps.
    static let queueIndexMask = RegisterMap.maxQueuesOfAnyFamily - 1
}
