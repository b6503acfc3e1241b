import PMDCore

/// The control side of the model, run at every engine step: settings and faults handed over by
/// other threads, VF reset, the mailbox, queue enables and the checks on ring programming.
///
/// VF reset: VFCTRL/CTRL.RST (82599 datasheet §8.2.3.1.1; ixgbevf.md §5.1, igbvf.md §4.6).
/// Queue enables: RXDCTL/TXDCTL.ENABLE reads back once the queue runs (82599 datasheet
/// §8.2.3.8.6, §8.2.3.9.10; the init order of §4.6.7 and §4.6.8); igb reads back at once
/// (igbvf.md §3.5). Ring programming: base and length of §8.2.3.8.1–3 / §8.2.3.9.5–7, lengths in
/// 128-byte units (§7.1.9, §7.2.3.3).
extension SimulatedVF {
    /// One control pass; true when something happened.
    func controlPoll(now: UInt64) -> Bool {
        var work = false
        let version = controlVersion.load(ordering: .acquiring)
        if version != appliedVersion.load(ordering: .relaxed) {
            applyShared(now: now)
            appliedVersion.store(version, ordering: .releasing)
            work = true
        }
        if removed {
            registers.fill(0xFF)
            return work
        }
        if let until = pfResetUntil, now >= until {
            // PF reset done: RSTI (a level) drops, RSTD rises until the VF reads it.
            pfResetUntil = nil
            registers.update(map.mailbox) { ($0 & ~MailboxBits.rsti) | MailboxBits.rstd }
            raiseMailboxCause()
            work = true
        }
        if registers.read(map.ctrl) & RegisterMap.ctrlReset != 0 {
            vfReset(now: now)
            work = true
        }
        if pollMailbox(now: now) { work = true }
        if work || scansIdleQueuesEveryPass || now &- lastQueueScan >= Self.idleQueueScanInterval {
            if scanQueues(now: now) { work = true }
            lastQueueScan = now
        } else {
            // Between full scans: the queues that were running or enabling at the last one.
            var active = activeQueues
            while active != 0 {
                let bit = active.trailingZeroBitCount
                active &= active &- 1
                let rx = bit < Self.txQueueBit
                let q = rx ? bit : bit &- Self.txQueueBit
                let idle = rx ? queueIdle(rxQueues + q, registerBase: map.rxBase &+ q &* map.rxStride)
                              : queueIdle(txQueues + q, registerBase: map.txBase &+ q &* map.txStride)
                if !idle, pollQueue(rx: rx, q, now: now) { work = true }
            }
        }
        refreshRSS()
        return work
    }

    /// Simulated or monotonic time between two scans of every queue (ns) in a threaded engine:
    /// a disabled queue's enable request or tail write is seen within it. The queues running
    /// or enabling are polled at every pass, and every queue after control work (settings,
    /// faults, reset, mailbox) and at every step of a stepped engine.
    static let idleQueueScanInterval: UInt64 = 20_000
    /// Bit of TX queue 0 in `activeQueues` (RX queue q is bit q).
    static let txQueueBit = 16

    /// Polls every queue and notes those running or enabling in `activeQueues`; true when
    /// something happened.
    private func scanQueues(now: UInt64) -> Bool {
        var work = false
        var active: UInt32 = 0
        // An idle queue (`queueIdle`) is neither running nor enabling: only a polled one can be.
        for q in 0..<map.maxQueues {
            let rx = rxQueues + q, tx = txQueues + q
            if !queueIdle(rx, registerBase: map.rxBase &+ q &* map.rxStride) {
                if pollQueue(rx: true, q, now: now) { work = true }
                if rx.pointee.enabled || rx.pointee.enablePending { active |= 1 << UInt32(q) }
            }
            if !queueIdle(tx, registerBase: map.txBase &+ q &* map.txStride) {
                if pollQueue(rx: false, q, now: now) { work = true }
                if tx.pointee.enabled || tx.pointee.enablePending { active |= 1 << UInt32(Self.txQueueBit &+ q) }
            }
        }
        activeQueues = active
        return work
    }

    /// Takes settings, wires, presets and faults from the shared state.
    private func applyShared(now: UInt64) {
        let (faults, presets) = shared.withLock { s -> ([Fault], [(StatisticRegister, UInt64)]) in
            settings = s.settings
            rxSource = s.rxSource.map(ReceiveSourceHolder.init)
            txSink = s.txSink
            busMaster = s.config.busMasterEnabled
            if msix.configure(eventFDs: s.pendingEventFDs, capabilityDelivers: s.config.msixDelivers) {
                // Causes set while no message could go out are sent now that one can.
                let pending = registers.read(map.eicr) & registers.read(map.eims)
                controlSemantics.interruptEvents.bitwiseOr(pending, ordering: .releasing)
            }
            defer { s.faults = []; s.statPresets = []; s.pendingEventFDs = nil }
            return (s.faults, s.statPresets)
        }
        for (r, v) in presets { stats.set(r, v) }
        if !presets.isEmpty && !removed { stats.store(into: registers, map: map) }
        for f in faults { apply(f, now: now) }
        refreshFilter()
        refreshPFRSS()
    }

    // MARK: - Registers at power-on and VF reset

    /// Register values after power-on.
    func powerOnRegisters() {
        for q in 0..<map.maxQueues {
            // SRRCTL: 2 KiB packet buffer, 256-byte header buffer; DCA: relaxed-ordering defaults.
            registers.write(map.rx(q, map.srrctl), RegisterMap.srrctlResetValue)
            registers.write(map.rx(q, map.rxDCA), RegisterMap.rxDCAResetValue)
            registers.write(map.tx(q, map.txDCA), RegisterMap.txDCAResetValue)
        }
        writeLinkRegister()
    }

    /// VF reset (control register RST bit, or function-level reset): queues stop, the PF loses
    /// the VF's clear-to-send, the mailbox's status bits clear (a pending REQ stays), the
    /// statistics restart.
    /// Ring registers keep their values (as the 82576 model does); heads read 0.
    func vfReset(now: UInt64) {
        counterStorage.pointee.vfResets &+= 1
        registers.write(map.ctrl, 0)
        for q in 0..<map.maxQueues {
            for rx in [true, false] {
                let base = rx ? map.rx(q, 0) : map.tx(q, 0)
                registers.clearBits(base + RegisterMap.queueControl, RegisterMap.queueEnable)
                registers.write(base + RegisterMap.head, 0)
                let tail = registers.read(base + RegisterMap.tail)
                if rx { rxQueues[q].disable(tail: tail); rxQueues[q].head = 0 } else { txQueues[q].disable(tail: tail); txQueues[q].head = 0 }
                if rx { rxQueues[q].stoppedByDevice = false } else { txQueues[q].stoppedByDevice = false }
            }
        }
        // A request already raised is kept: the model may see the reset late, after the VF
        // wrote its RESET message.
        registers.update(map.mailbox) { $0 & (MailboxBits.rsti | MailboxBits.req) }
        pendingPFMessages.removeAll()
        shared.withLock { s in s.responder.vfStateReset(view: &s.view, now: now) }
        stats = StatisticsRegisters(family: family)
        stats.store(into: registers, map: map)
    }

    /// The link register of the family from `link`: ixgbe VFLINKS (82599 datasheet
    /// §8.2.3.22.20; X550 datasheet for 2.5G and 5G), igb STATUS (82576 datasheet, Device Status).
    func writeLinkRegister() {
        typealias R = RegisterMap
        if let links = map.links {
            var v: UInt32 = 0
            if link.isUp {
                v = R.linksUp
                switch link.speedMbps {
                case 10_000: v |= R.linksSpeed10G
                case 5000: v |= R.linksSpeed100M | R.linksNonStandardSpeed
                case 2500: v |= R.linksSpeed10G | R.linksNonStandardSpeed
                case 1000: v |= R.linksSpeed1G
                case 100: v |= R.linksSpeed100M
                default: break
                }
            }
            registers.write(links, v)
        } else {
            var v = R.statusFullDuplex
            if link.isUp {
                v |= R.statusLinkUp
                v |= link.speedMbps >= 1000 ? R.statusSpeed1000 : link.speedMbps >= 100 ? R.statusSpeed100 : 0
            }
            registers.write(map.status, v)
        }
    }

    // MARK: - Queues

    /// Whether `pollQueue` would find nothing to do: the queue is disabled with no enable under
    /// way, its control register asks for no enable and its tail is where it was (most queues on
    /// most passes; checked without a call).
    @inline(__always)
    private func queueIdle(_ st: UnsafeMutablePointer<QueueState>, registerBase base: Int) -> Bool {
        !st.pointee.enabled && !st.pointee.enablePending
            && registers.read(base &+ RegisterMap.queueControl) & RegisterMap.queueEnable == 0
            && registers.read(base &+ RegisterMap.tail) == st.pointee.tailBaseline
    }

    @inline(never)  // one call per running queue and pass; inlined, it made the scans spill
    private func pollQueue(rx: Bool, _ q: Int, now: UInt64) -> Bool {
        let base = rx ? map.rx(q, 0) : map.tx(q, 0)
        let queues = rx ? rxQueues : txQueues
        let control = registers.read(base + RegisterMap.queueControl)
        if queues[q].enabled {
            if control & RegisterMap.queueEnable == 0 {
                queues[q].disable(tail: registers.read(base + RegisterMap.tail))
                return true
            }
            if !queues[q].ringWriteReported,
               registers.read(base + RegisterMap.ringBaseLow) != queues[q].baseLow
                || registers.read(base + RegisterMap.ringBaseHigh) != queues[q].baseHigh
                || registers.read(base + RegisterMap.ringLength) != queues[q].lengthBytes {
                queues[q].ringWriteReported = true
                record(.ringRegisterWrittenWhileEnabled, queue: q, "\(rx ? "RX" : "TX") ring registers changed")
            }
            if rx { readRxControl(q, control: control) }
            return false
        }
        let tail = registers.read(base + RegisterMap.tail)
        if queues[q].enablePending {
            if tail != queues[q].tailBaseline && checksEnableOrder {
                record(.tailWrittenBeforeEnable, queue: q, "\(rx ? "RX" : "TX") tail \(tail) while the enable was pending")
                queues[q].tailBaseline = tail
            }
            if control != queues[q].pendingControl {
                if control & RegisterMap.queueEnable == 0 {
                    // The driver rewrote the control without ENABLE: the enable is withdrawn.
                    queues[q].enablePending = false
                    queues[q].tailBaseline = tail
                    return true
                }
                registers.clearBits(base + RegisterMap.queueControl, RegisterMap.queueEnable)
                queues[q].pendingControl = control & ~RegisterMap.queueEnable
            }
            if now >= queues[q].enableAt { activate(rx: rx, q, now: now) }
            return true
        }
        if control & RegisterMap.queueEnable == 0 {
            if tail != queues[q].tailBaseline {
                if tail != 0 && family.isIxgbe && checksEnableOrder && !queues[q].stoppedByDevice {
                    record(.tailWrittenBeforeEnable, queue: q, "\(rx ? "RX" : "TX") tail \(tail) written while the queue was disabled")
                }
                queues[q].tailBaseline = tail
            }
            return false
        }
        // A new enable request: check the ring programming first.
        queues[q].stoppedByDevice = false
        let low = registers.read(base + RegisterMap.ringBaseLow)
        let length = registers.read(base + RegisterMap.ringLength)
        let alignment = RegisterMap.ringAlignment
        if low % alignment != 0 || length == 0 || length % alignment != 0 {
            record(low % alignment != 0 ? .ringBaseMisaligned : .ringLengthInvalid, queue: q,
                   "\(rx ? "RX" : "TX") base low 0x\(String(low, radix: 16)), length \(length); queue left disabled")
            registers.clearBits(base + RegisterMap.queueControl, RegisterMap.queueEnable)
            return true
        }
        if family.isIxgbe {
            if tail != queues[q].tailBaseline && checksEnableOrder {
                record(.tailWrittenBeforeEnable, queue: q, "\(rx ? "RX" : "TX") tail \(tail) written before the enable")
                queues[q].tailBaseline = tail
            }
            // The enable reads back only once the queue runs.
            registers.clearBits(base + RegisterMap.queueControl, RegisterMap.queueEnable)
            queues[q].pendingControl = control & ~RegisterMap.queueEnable
            queues[q].enablePending = true
            queues[q].enableAt = now &+ Self.enableDelay
        } else {
            activate(rx: rx, q, now: now)
        }
        return true
    }

    /// The queue starts: ring translated through the IOMMU, head from the head register, the
    /// enable bit set for the driver to read back.
    private func activate(rx: Bool, _ q: Int, now: UInt64) {
        let base = rx ? map.rx(q, 0) : map.tx(q, 0)
        let queues = rx ? rxQueues : txQueues
        var s = queues[q]
        s.enablePending = false
        s.enabled = true
        s.halted = false
        s.baseLow = registers.read(base + RegisterMap.ringBaseLow)
        s.baseHigh = registers.read(base + RegisterMap.ringBaseHigh)
        s.lengthBytes = registers.read(base + RegisterMap.ringLength)
        s.count = Int(s.lengthBytes) / RegisterMap.descriptorSize
        s.head = Int(registers.read(base + RegisterMap.head)) % s.count
        s.ringWriteReported = false
        s.contextValid = 0
        queues[q] = s
        registers.setBits(base + RegisterMap.queueControl, RegisterMap.queueEnable)
        _ = translateRing(rx: rx, q)
        if rx { readRxControl(q, control: registers.read(base + RegisterMap.queueControl)) }
    }

    /// Translates queue `q`'s ring through the IOMMU (again after the table changed); on a
    /// fault the queue halts. Returns the ring or nil.
    func translateRing(rx: Bool, _ q: Int) -> UnsafeMutableRawPointer? {
        let queues = rx ? rxQueues : txQueues
        let iova = UInt64(queues[q].baseHigh) << 32 | UInt64(queues[q].baseLow)
        queues[q].generation = container.generation
        guard let ring = container.table.translate(iova, length: Int(queues[q].lengthBytes)) else {
            queues[q].ring = nil
            dmaFault(iova: iova, length: Int(queues[q].lengthBytes), queue: q, access: rx ? .rxRing : .txRing)
            return nil
        }
        queues[q].ring = ring
        return ring
    }

    /// Records an IOMMU fault and stops the queue.
    func dmaFault(iova: UInt64, length: Int, queue q: Int, access: DMAFault.Access) {
        counterStorage.pointee.dmaFaults &+= 1
        container.recordFault(DMAFault(iova: iova, length: length, function: address, queue: q, access: access))
        if access == .rxRing || access == .rxBuffer { rxQueues[q].halted = true } else { txQueues[q].halted = true }
    }

    /// SRRCTL buffer size, VLAN strip and max length of RX queue `q`.
    private func readRxControl(_ q: Int, control: UInt32) {
        let srrctl = registers.read(map.rx(q, map.srrctl))
        var kib = Int(srrctl & RegisterMap.srrctlBufferSizeMask)
        if kib == 0 { kib = RegisterMap.igbDefaultBufferKiB }  // igb: 0 means the PF's RCTL.BSIZE
        rxQueues[q].bufferSize = kib * RegisterMap.srrctlBufferSizeUnit
        if family.isIxgbe {
            rxQueues[q].vlanStrip = control & RegisterMap.rxVLANStrip != 0
            rxQueues[q].maxLength = family != .ixgbe82599 && control & RegisterMap.rlpmlEnable != 0
                ? Int(control & RegisterMap.rlpmlMask) : 0
        } else {
            rxQueues[q].vlanStrip = filter.igbStrip
        }
    }

    /// The device stops a queue itself (PF reset, MDD): enable bit cleared, queue disabled.
    func stopQueueByDevice(rx: Bool, _ q: Int) {
        let base = rx ? map.rx(q, 0) : map.tx(q, 0)
        registers.clearBits(base + RegisterMap.queueControl, RegisterMap.queueEnable)
        let tail = registers.read(base + RegisterMap.tail)
        if rx { rxQueues[q].disable(tail: tail) } else { txQueues[q].disable(tail: tail) }
        if rx { rxQueues[q].stoppedByDevice = true } else { txQueues[q].stoppedByDevice = true }
    }

    /// Whether the model can tell that a tail write came before the enable read back: only
    /// when it runs in the driver's own thread (stepped). A threaded model may see the enable
    /// late, after a driver already read its own write back, so it does not judge the order.
    private var checksEnableOrder: Bool { engine.mode == .stepped }

    /// Records a protocol violation.
    func record(_ kind: ProtocolViolation.Kind, queue: Int, _ detail: String) {
        shared.withLock { $0.violations.append(ProtocolViolation(kind: kind, queue: queue, detail: detail)) }
    }
}
