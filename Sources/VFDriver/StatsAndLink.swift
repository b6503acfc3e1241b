import PMDCore

/// The VF's statistics registers extended to 64 bits.
public struct DeviceCounters: Sendable {
    /// Good packets / octets received, multicast received, good packets / octets sent.
    public var rxPackets, rxOctets, rxMulticast, txPackets, txOctets: RolloverCounter

    /// Reads at which a counter went backwards (a device fault); those reads counted nothing.
    public var regressions: UInt64 {
        rxPackets.regressions &+ rxOctets.regressions &+ rxMulticast.regressions
            &+ txPackets.regressions &+ txOctets.regressions
    }
}

/// Link state (VFLINKS / STATUS plus the mailbox check) and statistics: 82599 datasheet §8.3
/// VFLINKS and VFGPRC…VFMPRC, 82576 datasheet §8.2 STATUS and §8.26 VFGPRC…VFMPRC (VF
/// counters are not cleared on read and wrap).
extension VFPort {
    // MARK: - Counters

    /// Reads a 32- or 36-bit counter; the 36-bit ones as high, low, high (retrying when the
    /// high part moved) so that a carry between the two reads cannot tear the value.
    func readCounter(_ register: CounterRegister) -> UInt64 {
        guard let high = register.high else { return UInt64(controlRegisters.read(register.low)) }
        var before = controlRegisters.read(high) & CounterRegister.highBitsMask
        while true {
            let low = controlRegisters.read(register.low)
            let after = controlRegisters.read(high) & CounterRegister.highBitsMask
            if after == before { return UInt64(after) << 32 | UInt64(low) }
            before = after
        }
    }

    /// Starts every counter over from its current value (after a reset restarted them).
    func rebaseCounters() {
        let r = table.stats
        let values = (readCounter(r.rxPackets), readCounter(r.rxOctets), readCounter(r.rxMulticast),
                      readCounter(r.txPackets), readCounter(r.txOctets))
        if var c = deviceCounters {
            c.rxPackets.rebase(raw: values.0)
            c.rxOctets.rebase(raw: values.1)
            c.rxMulticast.rebase(raw: values.2)
            c.txPackets.rebase(raw: values.3)
            c.txOctets.rebase(raw: values.4)
            deviceCounters = c
        } else {
            deviceCounters = DeviceCounters(
                rxPackets: RolloverCounter(width: r.rxPackets.width, initial: values.0),
                rxOctets: RolloverCounter(width: r.rxOctets.width, initial: values.1),
                rxMulticast: RolloverCounter(width: r.rxMulticast.width, initial: values.2),
                txPackets: RolloverCounter(width: r.txPackets.width, initial: values.3),
                txOctets: RolloverCounter(width: r.txOctets.width, initial: values.4))
        }
    }

    /// The device counters as of the last `updateStats()`.
    public var hardwareCounters: DeviceCounters? { deviceCounters }

    /// Software counters of RX queue `queue`.
    public func rxCounters(queue: Int) -> RxQueueCounters { RxQueueCounters(queueTallies[queue].rx) }

    /// Software counters of TX queue `queue`.
    public func txCounters(queue: Int) -> TxQueueCounters { TxQueueCounters(queueTallies[queue].tx) }

    /// Checks the PF and the link (`watchdog()`), re-initialising the port when it owes it,
    /// then reads the counters into `stats`. Call with the queues quiet (no burst running), about
    /// once a second: a 36-bit octet counter wraps after about 55 s at 10 Gb/s, and a step of
    /// more than half a counter's range (27 s) is taken for a device fault.
    public func updateStats() {
        watchdog()
        guard state != .closed else { return }
        readCounters()
    }

    /// Reads the counters and the link and looks at the PF, beside the datapath: other threads
    /// may run bursts on every queue meanwhile (nothing here touches a ring or a queue's state;
    /// the link's settle reads wait on this thread only). Returns true, having read nothing,
    /// when the port owes work that needs its queues quiet (the device is gone, the PF reset,
    /// clear-to-send was lost, the mailbox went silent): then call `updateStats()` with every
    /// burst stopped.
    public func updateStatsBesideBursts() -> Bool {
        guard state != .closed else { return false }
        if state != .removed {
            if owesMaintenance() { return true }
            link = readLink()
        }
        readCounters()
        return false
    }

    /// Whether `watchdog()` has work to do that touches the queues.
    func owesMaintenance() -> Bool {
        if controlRegisters.read(table.linkRegister) == VFFamilyTable.removedDeviceRead || !mailbox.pollPFMessages() {
            return true
        }
        return mailbox.resetSeen || mailbox.lostClearToSend || mailbox.timedOut || needsRecovery
            || mailbox.bareNACKSeen
    }

    /// The device's counters (registers) and the queues' software counters into `stats`.
    func readCounters() {
        if state != .removed, var c = deviceCounters {
            let r = table.stats
            c.rxPackets.update(raw: readCounter(r.rxPackets))
            c.rxOctets.update(raw: readCounter(r.rxOctets))
            c.rxMulticast.update(raw: readCounter(r.rxMulticast))
            c.txPackets.update(raw: readCounter(r.txPackets))
            c.txOctets.update(raw: readCounter(r.txOctets))
            deviceCounters = c
            stats.rxPackets = c.rxPackets.total
            stats.rxBytes = c.rxOctets.total
            stats.txPackets = c.txPackets.total
            stats.txBytes = c.txOctets.total
        }
        var rxErrors: UInt64 = 0, rxNoBuffer: UInt64 = 0, txErrors: UInt64 = 0, txDiscarded: UInt64 = 0
        for q in 0..<allocatedQueues {
            let rx = RxQueueCounters(queueTallies[q].rx), tx = TxQueueCounters(queueTallies[q].tx)
            rxErrors &+= rx.frameErrors &+ rx.oversize &+ rx.multiDescriptorDrops &+ rx.unpostedWrites
            rxNoBuffer &+= rx.noBuffer
            txErrors &+= tx.errors
            txDiscarded &+= tx.discarded
        }
        stats.rxErrors = rxErrors
        stats.rxNoBuffer = rxNoBuffer
        stats.txErrors = txErrors
        stats.txDiscarded = txDiscarded
        stats.dmaFaults = UInt64(function.dmaFaults)
        stats.filterDrops = backing?.filterDrops ?? FilterDrops()
    }

    // MARK: - Link and PF health

    /// Looks at the PF and the device: a removed device is marked removed; a PF reset, a lost
    /// clear-to-send or a timed-out mailbox makes the port re-initialise itself; then the
    /// link is read. Called by `updateStats()`; call it about once a second otherwise.
    public func watchdog() {
        guard state != .closed && state != .removed else { return }
        if controlRegisters.read(table.linkRegister) == VFFamilyTable.removedDeviceRead || !mailbox.pollPFMessages() {
            markRemoved()
            return
        }
        if mailbox.resetSeen {
            recover(reason: "the PF reset itself")
        } else if mailbox.lostClearToSend {
            recover(reason: "the PF withdrew clear-to-send")
        } else if mailbox.timedOut {
            recover(reason: "the PF stopped answering the mailbox")
        } else if needsRecovery {
            recover(reason: "a previous re-initialisation failed")
        } else if mailbox.bareNACKSeen && !pfConfirmsClearToSend() {
            recover(reason: "the PF no longer considers the VF clear to send")
        }
        guard state != .removed else { return }
        link = readLink()
    }

    /// After a bare NACK: asks the PF something harmless (SET_LPE with the current frame size)
    /// and reports whether the answer still carries clear-to-send.
    func pfConfirmsClearToSend() -> Bool {
        mailbox.clearBareNACK()
        let frame = UInt32(configuration.mtu + table.maxFrameOverhead)
        guard let reply = try? mailbox.request([MailboxMessage.setLPE.id, frame], .setLPE, replyWords: MailboxReply.statusOnlyWords) else {
            return false
        }
        return reply.acked && reply.words[0] & MessageWord.clearToSend != 0
    }

    /// The link as the VF sees it: the link register's up bit (82599: stable over five reads
    /// 100 µs apart) and speed; down while the PF is resetting or owes clear-to-send.
    func readLink() -> LinkStatus {
        if needsRecovery || mailbox.resetSeen || mailbox.lostClearToSend { return .down }
        var value = controlRegisters.read(table.linkRegister)
        guard value != VFFamilyTable.removedDeviceRead, value & table.linkUpBit != 0 else { return .down }
        if table.linkDebounce {
            for _ in 0..<VFFamilyTable.Timing.linkDebounceReads {
                function.delay(microseconds: VFFamilyTable.Timing.linkDebounceInterval)
                value = controlRegisters.read(table.linkRegister)
                if value & table.linkUpBit == 0 || value == VFFamilyTable.removedDeviceRead { return .down }
            }
        }
        return LinkStatus(isUp: true, speedMbps: table.speedMbps(linkRegister: value))
    }
}
