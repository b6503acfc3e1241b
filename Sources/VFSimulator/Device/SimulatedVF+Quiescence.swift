import PMDCore

/// Whether the VF has finished its work, as seen from outside the engine: answers for a port
/// that wants to know when a finite input has been delivered, or when what the driver queued
/// for sending has left. Read from the ring registers and atomics only (the source's state
/// behind the short control lock): any thread may ask, while the engine runs.
extension SimulatedVF {
    /// On every RX queue whose ring length register is non-zero, the driver has taken
    /// everything the device wrote: the tail is one behind the head, modulo the ring's count
    /// (the ring is full of posted descriptors again, ixgbevf.md §6.6). True when no RX ring
    /// is programmed.
    public var receiveRingsDrained: Bool {
        for q in 0..<map.maxQueues {
            let count = Int(registers.read(map.rx(q, RegisterMap.ringLength))) / RegisterMap.descriptorSize
            guard count > 0 else { continue }
            let head = Int(registers.read(map.rx(q, RegisterMap.head)))
            let tail = Int(registers.read(map.rx(q, RegisterMap.tail)))
            if (tail + 1) % count != head { return false }
        }
        return true
    }

    /// On every TX queue whose enable bit reads set, the head has reached the tail: the device
    /// has processed every descriptor the driver gave it. True when no TX queue is enabled.
    public var transmitRingsIdle: Bool {
        for q in 0..<map.maxQueues {
            let block = map.tx(q, 0)
            guard registers.read(block + RegisterMap.queueControl) & RegisterMap.queueEnable != 0 else { continue }
            if registers.read(block + RegisterMap.head) != registers.read(block + RegisterMap.tail) { return false }
        }
        return true
    }

    /// The receive source is finite and every frame of it is accounted for: the source is
    /// exhausted (`isReceiveSourceExhausted`), the engine has completed at least two passes over
    /// the VF since that was first seen by this property (so the last frame was dropped or
    /// written into a ring), and `receiveRingsDrained`. False without a source, and for an
    /// endless one (a cable, an endless generator).
    ///
    /// The first call that sees the source exhausted starts the count and answers false: ask
    /// again until it holds. `connect(rx:)` with a new source starts the count anew.
    public var hasDeliveredAllInput: Bool {
        guard isReceiveSourceExhausted else { return false }
        let passes = engine.passCount
        let seen = inputExhaustedAtPass.load(ordering: .acquiring)
        if seen == 0 {
            _ = inputExhaustedAtPass.compareExchange(expected: 0, desired: passes &+ 1, ordering: .acquiringAndReleasing)
            return false
        }
        guard passes >= seen &+ 2 else { return false }
        return receiveRingsDrained
    }

    /// Waits until `transmitRingsIdle` holds, polling every 100 µs, for at most
    /// `timeoutNanoseconds`; returns whether it holds. A threaded engine is left to run while
    /// this sleeps; a stepped one is advanced 100 µs per poll in the caller's thread (as
    /// `delay(microseconds:)` does), since nothing else would move it.
    @discardableResult
    public func waitForTransmitRingsIdle(timeoutNanoseconds: UInt64) -> Bool {
        let deadline = MonotonicClock.nanoseconds() &+ timeoutNanoseconds
        while !transmitRingsIdle {
            guard MonotonicClock.nanoseconds() < deadline else { return false }
            if engine.mode == .stepped {
                engine.advance(microseconds: Self.transmitIdlePollMicroseconds)
            } else {
                MonotonicClock.sleep(microseconds: Self.transmitIdlePollMicroseconds)
            }
        }
        return true
    }

    /// How often `waitForTransmitRingsIdle` looks (µs).
    static let transmitIdlePollMicroseconds = 100
}
