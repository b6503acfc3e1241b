import CShims
import PMDCore

/// Bring-up, reset handshake, queue programming, stop, close and recovery: the VF reset and
/// mailbox handshake of 82599 datasheet §7.10 (82576 datasheet §7.10), then receive and
/// transmit initialisation as in 82599 datasheet §4.6.7 and §4.6.8, with the per-queue
/// enable and disable of §4.6.7.1 and §4.6.8.1.
extension VFPort {
    // MARK: - Reset and PF handshake

    /// Masks interrupts (poll mode): auto-mask and auto-clear off, mask everything, read the
    /// cause (82599 datasheet §8.3 VTEIAM, VTEIMC, VTEIAC, VTEICR; 82576 datasheet §8.8 EIMC, EICR).
    func maskInterrupts() {
        if let autoMask = table.interruptAutoMask { controlRegisters.write(autoMask, 0) }
        controlRegisters.write(table.interruptMaskClear, VFFamilyTable.interruptMaskAll)
        if let autoClear = table.interruptAutoClear { controlRegisters.write(autoClear, 0) }
        _ = controlRegisters.read(table.interruptCause)
    }

    /// Stops every queue the VF has, as the reset sequence begins (queues off, flush, 2 ms).
    func quiesceAllQueues() {
        for q in 0..<table.maxQueues {
            window.write(table.txQueue.offset(table.txQueue.control, queue: q), table.queueFlush)
            window.clear(table.rxQueue.offset(table.rxQueue.control, queue: q), bits: table.queueEnable)
        }
        if let psrtype = table.packetSplitType { window.write(psrtype, 0) }
        _ = controlRegisters.read(table.status)
        function.delay(microseconds: VFFamilyTable.Timing.queueStopSettle)
    }

    /// The VF reset handshake, API negotiation, GET_QUEUES and the MAC address.
    func initializeDevice() throws(VFDriverError) {
        maskInterrupts()
        quiesceAllQueues()
        mailbox.resetState()
        apiVersion = .v1_0
        // VF soft reset, flush, settle (X550 VF: 50 ms).
        controlRegisters.write(table.control, table.resetBit)
        _ = controlRegisters.read(table.status)
        // The reset bit clears itself once the reset took effect; a message posted before
        // that would be wiped by the reset. Bounded: 200 × 5 µs, then go on regardless.
        for _ in 0..<VFFamilyTable.Timing.resetBitPolls where controlRegisters.read(table.control) & table.resetBit != 0 {
            function.delay(microseconds: VFFamilyTable.Timing.resetBitPollInterval)
        }
        if table.resetSettleMicroseconds > 0 { function.delay(microseconds: table.resetSettleMicroseconds) }
        guard mailbox.waitForPFResetToFinish(tries: table.resetWaitTries,
                                             microseconds: VFFamilyTable.Timing.resetDoneWaitInterval) else {
            if mailbox.removed { throw .deviceRemoved(address: function.address) }
            throw .pfStillResetting(address: function.address)
        }
        if let values = table.queueResetValues { writeQueueResetValues(values) }
        maskInterrupts()

        // RESET: the reply carries the permanent MAC (ACK) or says none is assigned (NACK).
        try mailbox.post([MailboxMessage.reset.id], .reset)
        function.delay(microseconds: VFFamilyTable.Timing.resetReplyDelay)
        let reply = try mailbox.receive(count: table.resetReplyWords, .reset)
        let word = reply[0] & ~MessageWord.clearToSend
        guard word == MailboxMessage.reset.id | MessageWord.ack || word == MailboxMessage.reset.id | MessageWord.nack else {
            throw .mailboxRefused(address: function.address, message: MailboxMessage.reset.name)
        }
        let assigned = word & MessageWord.ack != 0 ? Mailbox.mac(from: reply) : MACAddress.zero
        permanentMAC = assigned.isZero ? nil : assigned
        multicastFilterType = table.resetReplyWords > ResetReply.filterTypeWord
            ? Int(reply[ResetReply.filterTypeWord] & ResetReply.filterTypeMask) : 0

        try negotiateAPI()
        grantedQueues = try queryQueues()
        try chooseMACAddress()
        mailbox.resetState()
    }

    /// Queue registers back to their reset values after a VF reset (82599 datasheet §7.10 VF
    /// reset; heads, tails, controls and write-back addresses 0, in the out-of-tree and DPDK order).
    func writeQueueResetValues(_ values: QueueResetValues) {
        let rx = table.rxQueue, tx = table.txQueue
        for q in 0..<table.maxQueues {
            for offset in [rx.head, rx.tail, rx.control] { window.write(rx.offset(offset, queue: q), 0) }
            for offset in [tx.head, tx.tail, tx.control, tx.writeBackHigh, tx.writeBackLow] {
                window.write(tx.offset(offset, queue: q), 0)
            }
            window.write(rx.offset(rx.splitControl, queue: q), values.splitControl)
            window.write(rx.offset(rx.dcaControl, queue: q), values.rxDCAControl)
            window.write(tx.offset(tx.dcaControl, queue: q), values.txDCAControl)
        }
        _ = controlRegisters.read(table.status)
    }

    /// API_NEGOTIATE from 1.4 down to 1.0; NACKs all the way down mean a 1.0 PF.
    func negotiateAPI() throws(VFDriverError) {
        guard table.negotiatesAPI else { return }
        for api in MailboxAPI.negotiationOrder {
            let reply = try mailbox.request([MailboxMessage.apiNegotiate.id, UInt32(api.rawValue), 0],
                                            .apiNegotiate, replyWords: MailboxReply.statusOnlyWords)
            if reply.acked {
                apiVersion = api
                return
            }
        }
    }

    /// GET_QUEUES (API 1.1+), validated as the VF drivers do; igb VFs have a fixed count.
    func queryQueues() throws(VFDriverError) -> Int {
        guard table.negotiatesAPI else { return table.maxQueues }
        guard apiVersion >= .v1_1 else { return 1 }
        let reply = try mailbox.request([MailboxMessage.getQueues.id, 0, 0, 0, 0], .getQueues,
                                        replyWords: GetQueuesReply.words)
        guard reply.acked else {
            throw .mailboxRefused(address: function.address, message: MailboxMessage.getQueues.name)
        }
        let limit = GetQueuesReply.queueLimit
        func valid(_ n: UInt32) -> Int { n == 0 || n > limit ? Int(limit) : Int(n) }
        return min(valid(reply.words[GetQueuesReply.txQueuesWord]), valid(reply.words[GetQueuesReply.rxQueuesWord]),
                   table.maxQueues)
    }

    /// Uses the configured MAC, else the PF's, else a random locally administered one
    /// (kept across resets), announcing any but the PF's with SET_MAC_ADDR. (Linux igbvf
    /// always sends SET_MAC_ADDR; a PF whose administrator fixed the MAC may refuse even the
    /// same address from an untrusted VF, so it is sent only when the address differs.)
    func chooseMACAddress() throws(VFDriverError) {
        var wanted: MACAddress
        if let mac = configuration.mac {
            wanted = mac
        } else if let permanent = permanentMAC {
            wanted = permanent
        } else if !macAddress.isZero && macAddress.isLocallyAdministered {
            wanted = macAddress
        } else {
            wanted = MACAddress.randomLocal()
            driverLog.warning("\(name): the PF assigned no MAC address to VF \(function.address); using the random locally administered \(wanted) (assign one with `ip link set <PF> vf <N> mac <address>`)")
        }
        if wanted != permanentMAC {
            let reply = try mailbox.request([MailboxMessage.setMACAddress.id] + Mailbox.words(for: wanted),
                                            .setMACAddress, replyWords: MailboxReply.statusOnlyWords)
            guard reply.acked else {
                throw .refusedByPF(
                    address: function.address, what: "the MAC address \(wanted)",
                    reason: .macFixed(wanted: wanted))
            }
        }
        macAddress = wanted
    }

    // MARK: - Memory

    /// Maps a region for the device, once per port.
    func map(_ region: DMAMemory) throws(VFDriverError) {
        if mappedRegions.contains(where: { $0 === region }) { return }
        do {
            try function.mapDMA(region)
        } catch {
            throw .dmaMapFailed(address: function.address, reason: "\(error)")
        }
        mappedRegions.append(region)
    }

    /// One pool, RX ring and TX ring per queue, mapped; the queue structs set up.
    func allocateQueues() throws {
        let config = configuration
        let segment = function.dmaSegmentSize
        let ringBytes = max(config.rxDescriptors, config.txDescriptors) * VFFamilyTable.DescriptorLayout.size
        if let segment, ringBytes > segment {
            throw VFDriverError.invalidConfiguration("a ring of \(ringBytes) bytes does not fit in one \(segment / 1024) KiB segment of the device's addresses: use fewer descriptors")
        }
        for q in 0..<queueCount {
            let pool = try Mempool(name: "\(name) rx\(q)", capacity: config.buffersPerPool,
                                   dataRoom: config.poolDataRoom, pages: config.pages, segmentSize: segment)
            rxPools.append(pool)
            try map(pool.region)
            pool.regionWasMapped()

            let rxRing = try DMAMemory(length: config.rxDescriptors * VFFamilyTable.DescriptorLayout.size, pages: config.pages)
            try map(rxRing)
            let rxSlots = UnsafeMutablePointer<UInt32>.allocate(capacity: config.rxDescriptors)
            sideArrays.append(UnsafeMutableRawPointer(rxSlots))
            (rxQueues + q).initialize(to: RxQueue(
                ring: rxRing.address, slots: rxSlots, size: config.rxDescriptors, pool: pool.ref,
                tailRegister: window.base + table.rxQueue.offset(table.rxQueue.tail, queue: q),
                bufferSize: config.hardwareBufferSize, bits: table.rxBits,
                stripsTags: table.vlanStripBit == nil || config.stripVLAN, queueID: q,
                scattered: config.scatteredReceive, counters: queueTallies[q].rx))

            let txRing = try DMAMemory(length: config.txDescriptors * VFFamilyTable.DescriptorLayout.size, pages: config.pages)
            try map(txRing)
            let n = config.txDescriptors
            let pools = UnsafeMutablePointer<PoolRef>.allocate(capacity: n)
            let buffers = UnsafeMutablePointer<UInt32>.allocate(capacity: n)
            let ends = UnsafeMutablePointer<UInt16>.allocate(capacity: n)
            sideArrays += [UnsafeMutableRawPointer(pools), UnsafeMutableRawPointer(buffers), UnsafeMutableRawPointer(ends)]
            (txQueues + q).initialize(to: TxQueue(
                ring: txRing.address, burstPools: pools, slotBuffers: buffers, burstEnds: ends, size: n,
                tailRegister: window.base + table.txQueue.offset(table.txQueue.tail, queue: q),
                checkContext: table.txCheckContext, freeThreshold: config.txFreeThreshold,
                maxBytes: table.maxTxBytesPerDescriptor, counters: queueTallies[q].tx))
            ringRegions.append((rx: rxRing, tx: txRing))
            allocatedQueues = q + 1
        }
    }

    /// Unmaps every region this port mapped and frees the side arrays.
    func releaseMemory() {
        for region in mappedRegions.reversed() {
            do { try function.unmapDMA(region) } catch {
                driverLog.warning("\(name): unmapping DMA memory failed: \(error)")
            }
            region.clearMapping()
        }
        mappedRegions.removeAll()
        for p in sideArrays { p.deallocate() }
        sideArrays.removeAll()
    }

    // MARK: - Start and stop

    /// Programs and enables every queue (TX first, then RSS and RX), fills the RX rings; in
    /// interrupt mode first makes the eventfds, attaches them and enables MSI-X, then maps
    /// the causes to vectors (`interruptEventFDs`).
    public func start() throws {
        switch state {
        case .started: return
        case .closed: throw VFDriverError.closed(address: function.address)
        case .removed: throw VFDriverError.deviceRemoved(address: function.address)
        case .configured, .stopped: break
        }
        do {
            if configuration.interrupts != nil { try attachInterrupts() }
            try startQueues()
        } catch {
            quiesceQueues()
            releaseAllBuffers()
            detachInterrupts()
            throw error
        }
        state = .started
        queuesRunning = true
    }

    func startQueues() throws(VFDriverError) {
        for q in 0..<queueCount { try configureTxQueue(q) }
        if let psrtype = table.packetSplitType {
            window.write(psrtype, VFFamilyTable.rssQueuesPerPool(queueCount))
        }
        configureRSS()
        for q in 0..<queueCount { try configureRxQueue(q) }
        programInterrupts()
    }

    /// TX queue bring-up (82599 datasheet §4.6.8, §4.6.8.1: flush, ring, write-back off,
    /// DCA, head and tail 0, enable with thresholds, poll the enable bit back).
    func configureTxQueue(_ q: Int) throws(VFDriverError) {
        let tx = table.txQueue
        let ring = ringRegions[q].tx
        guard let iova = ring.iova else { throw .dmaMapFailed(address: function.address, reason: "TX ring not mapped") }
        window.write(tx.offset(tx.control, queue: q), table.queueFlush)
        _ = controlRegisters.read(table.status)
        window.write(tx.offset(tx.baseLow, queue: q), UInt32(truncatingIfNeeded: iova))
        window.write(tx.offset(tx.baseHigh, queue: q), UInt32(truncatingIfNeeded: iova >> 32))
        window.write(tx.offset(tx.length, queue: q), UInt32(configuration.txDescriptors * VFFamilyTable.DescriptorLayout.size))
        window.write(tx.offset(tx.writeBackHigh, queue: q), 0)
        window.write(tx.offset(tx.writeBackLow, queue: q), 0)
        window.write(tx.offset(tx.dcaControl, queue: q), table.txDCAValue)
        window.write(tx.offset(tx.head, queue: q), 0)
        window.write(tx.offset(tx.tail, queue: q), 0)
        txQueues[q].releaseBuffers()
        window.write(tx.offset(tx.control, queue: q), table.queueEnable | table.txControlThresholds)
        if table.pollsQueueEnable {
            try pollQueueEnable(offset: tx.offset(tx.control, queue: q), queue: q, direction: "TX")
        }
    }

    /// RX queue bring-up: disable, ring, SRRCTL, max length, fill, enable, tail (82599
    /// datasheet §4.6.7, §4.6.7.1; the tail is written last, after the ring is filled, §7.1.9).
    func configureRxQueue(_ q: Int) throws(VFDriverError) {
        let rx = table.rxQueue
        let ring = ringRegions[q].rx
        guard let iova = ring.iova else { throw .dmaMapFailed(address: function.address, reason: "RX ring not mapped") }
        let control = rx.offset(rx.control, queue: q)
        window.clear(control, bits: table.queueEnable)
        waitForQueueDisable(control)
        window.write(rx.offset(rx.baseLow, queue: q), UInt32(truncatingIfNeeded: iova))
        window.write(rx.offset(rx.baseHigh, queue: q), UInt32(truncatingIfNeeded: iova >> 32))
        window.write(rx.offset(rx.length, queue: q), UInt32(configuration.rxDescriptors * VFFamilyTable.DescriptorLayout.size))
        window.write(rx.offset(rx.dcaControl, queue: q), table.rxDCAValue)
        window.write(rx.offset(rx.head, queue: q), 0)
        window.write(rx.offset(rx.tail, queue: q), 0)
        let bufferSize = UInt32(configuration.hardwareBufferSize >> VFFamilyTable.srrctlPacketBufferShift)
        window.write(rx.offset(rx.splitControl, queue: q), table.srrctlOneBuffer | table.srrctlDropEnable | bufferSize)
        var value = table.queueEnable | table.rxControlThresholds
        if table.hasPerQueueMaxLength {
            value |= VFFamilyTable.rxControlMaxLength(configuration.maxFrameLength)
        }
        if configuration.stripVLAN, let strip = table.vlanStripBit { value |= strip }
        rxQueues[q].releaseBuffers()
        guard rxQueues[q].fillRing() else {
            throw .invalidConfiguration("the pool of RX queue \(q) cannot fill \(configuration.rxDescriptors) descriptors")
        }
        window.write(control, value)
        if table.pollsQueueEnable { try pollQueueEnable(offset: control, queue: q, direction: "RX") }
        Barrier.beforeTailWrite()
        window.write(rx.offset(rx.tail, queue: q), UInt32(configuration.rxDescriptors - 1))
    }

    /// Polls a queue's enable bit back: up to 10 × 1 ms, waiting before each read (the
    /// bit read at once may still be the value just written).
    func pollQueueEnable(offset: Int, queue: Int, direction: String) throws(VFDriverError) {
        for _ in 0..<VFFamilyTable.Timing.queueEnablePolls {
            function.delay(microseconds: VFFamilyTable.Timing.queueEnablePollInterval)
            let value = window.read(offset)
            if value == VFFamilyTable.removedDeviceRead { throw .deviceRemoved(address: function.address) }
            if value & table.queueEnable != 0 { return }
        }
        throw .queueDidNotRespond(address: function.address, queue: queue, direction: direction, enabling: true)
    }

    /// Waits for a cleared RX enable bit to read back 0: up to 10 × 10 µs, waiting first.
    func waitForQueueDisable(_ control: Int) {
        for _ in 0..<VFFamilyTable.Timing.queueDisablePolls {
            function.delay(microseconds: VFFamilyTable.Timing.queueDisablePollInterval)
            if window.read(control) & table.queueEnable == 0 { return }
        }
    }

    /// Disables the port's queues, waits for the device to let go of them, and zeroes their
    /// heads and tails: the rings offer the device no descriptor once their buffers are taken
    /// back (a queue enabled again by anyone cannot write into returned buffers).
    func quiesceQueues() {
        guard state != .removed else { return }
        let rx = table.rxQueue, tx = table.txQueue
        for q in 0..<allocatedQueues {
            window.write(tx.offset(tx.control, queue: q), table.queueFlush)
        }
        for q in 0..<allocatedQueues {
            let control = rx.offset(rx.control, queue: q)
            window.clear(control, bits: table.queueEnable)
            waitForQueueDisable(control)
        }
        for q in 0..<allocatedQueues {
            for offset in [rx.head, rx.tail] { window.write(rx.offset(offset, queue: q), 0) }
            for offset in [tx.head, tx.tail] { window.write(tx.offset(offset, queue: q), 0) }
        }
        maskInterrupts()
        function.delay(microseconds: VFFamilyTable.Timing.queueStopSettle)
    }

    /// Every buffer in every ring back to its pool.
    func releaseAllBuffers() {
        for q in 0..<allocatedQueues {
            rxQueues[q].releaseBuffers()
            txQueues[q].releaseBuffers()
        }
    }

    /// Disables the queues, takes back every buffer the device held and, in interrupt mode,
    /// turns MSI-X off and closes the eventfds.
    public func stop() {
        guard state == .started || state == .removed else { return }
        if state == .started { backing?.portWillStop() }
        queuesRunning = false
        quiesceQueues()
        releaseAllBuffers()
        detachInterrupts()
        if state == .started { state = .stopped }
    }

    /// Stops the port, resets the VF (no DMA after this), unmaps its memory. The pools are
    /// whole afterwards.
    public func close() {
        guard state != .closed else { return }
        if driverLog.logLevel <= .trace { traceDeviceCounters() }
        stop()
        if state != .removed {
            controlRegisters.write(table.control, table.resetBit)
            _ = controlRegisters.read(table.status)
            function.delay(microseconds: VFFamilyTable.Timing.queueStopSettle)
        }
        releaseAllBuffers()
        releaseMemory()
        state = .closed
        queuesRunning = false
        backing?.portDidClose()
    }

    /// The device's statistics registers as of now, at trace level (one device model is
    /// compared with another by these lines).
    private func traceDeviceCounters() {
        guard state == .started || state == .stopped else { return }
        readCounters()
        guard let c = deviceCounters else { return }
        driverLog.trace("\(name): device counters at close: received \(c.rxPackets.total) packets \(c.rxOctets.total) bytes \(c.rxMulticast.total) multicast, sent \(c.txPackets.total) packets \(c.txOctets.total) bytes")
    }

    // MARK: - Recovery

    /// Re-initialises the port after a PF reset or a lost clear-to-send: stops the queues,
    /// takes back every buffer, runs the reset handshake and the PF settings again, and
    /// restarts the queues if they were running. Counts the reset. Returns the error when it
    /// failed (the next `watchdog()` tries again).
    @discardableResult
    func recover(reason: String) -> VFDriverError? {
        let wasRunning = state == .started
        queuesRunning = false
        driverLog.warning("\(name): \(reason); re-initialising VF \(function.address)")
        quiesceQueues()
        releaseAllBuffers()
        do {
            try initializeDevice()
            if grantedQueues < queueCount {
                driverLog.warning("\(name): the PF now grants \(grantedQueues) queue pairs; the port keeps its \(queueCount)")
            }
            try applyPFSettings()
            rebaseCounters()
            if wasRunning { try startQueues() }
            needsRecovery = false
            stats.resets &+= 1
            queuesRunning = wasRunning
            driverLog.notice("\(name): VF \(function.address) re-initialised")
            return nil
        } catch .deviceRemoved {
            markRemoved()
            return .deviceRemoved(address: function.address)
        } catch {
            needsRecovery = true
            quiesceQueues()
            releaseAllBuffers()
            driverLog.error("\(name): re-initialisation failed: \(error); retrying at the next check")
            return error
        }
    }

    /// Marks the device gone: no more register or ring work, every buffer back in its pool.
    func markRemoved() {
        guard state != .removed && state != .closed else { return }
        queuesRunning = false
        state = .removed
        releaseAllBuffers()
        link = .down
        driverLog.error("\(VFDriverError.deviceRemoved(address: function.address))")
    }

    /// Runs a PF request; a PF reset seen during it, or a refusal because the PF no longer
    /// considers the VF clear to send, triggers a recovery, which re-applies the whole
    /// configuration (the new setting included).
    func withRecovery(_ body: () throws(VFDriverError) -> Void) throws(VFDriverError) {
        guard state != .closed else { throw .closed(address: function.address) }
        guard state != .removed else { throw .deviceRemoved(address: function.address) }
        do {
            try body()
        } catch .deviceRemoved {
            markRemoved()
            throw .deviceRemoved(address: function.address)
        } catch {
            let reason: String
            if case .pfReset = error {
                reason = "the PF reset itself"
            } else if mailbox.lostClearToSend || mailbox.resetSeen {
                reason = "the PF no longer considers the VF clear to send"
            } else {
                throw error
            }
            if let failure = recover(reason: reason) { throw failure }
        }
    }
}
