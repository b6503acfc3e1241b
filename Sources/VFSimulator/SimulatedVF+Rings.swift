import PMDCore

/// What only the device knows about its rings, for the application above the driver: whether
/// everything a finite input carried has reached the driver, and whether the transmit rings
/// are empty. Read from registers and atomics (and the shared lock for the source): any
/// thread may ask.
extension SimulatedVF {
    /// On every RX queue with a ring, the driver took everything the device wrote back: its
    /// tail is one behind the device's head (82599 datasheet, receive descriptor ring: the
    /// ring is empty of completed descriptors when RDT + 1 == RDH, modulo the ring's size).
    public var receiveRingsDrained: Bool {
        for q in 0..<map.maxQueues {
            let count = Int(registers.read(map.rx(q, RegisterMap.ringLength))) / 16
            guard count > 0 else { continue }
            let head = Int(registers.read(map.rx(q, RegisterMap.head)))
            let tail = Int(registers.read(map.rx(q, RegisterMap.tail)))
            if (tail + 1) % count != head { return false }
        }
        return true
    }

    /// Every TX queue's head has caught up with its tail: nothing is left to send.
    public var transmitRingsIdle: Bool {
        (0..<map.maxQueues).allSatisfy { q in
            registers.read(map.tx(q, RegisterMap.head)) == registers.read(map.tx(q, RegisterMap.tail))
        }
    }

    /// Waits, sleeping 100 µs at a time, until the TX rings are idle or `timeoutNanoseconds`
    /// passed; returns whether they are idle.
    @discardableResult
    public func waitForTransmitRingsIdle(timeoutNanoseconds: UInt64) -> Bool {
        let deadline = MonotonicClock.nanoseconds() &+ timeoutNanoseconds
        while !transmitRingsIdle {
            if MonotonicClock.nanoseconds() >= deadline { return false }
            MonotonicClock.sleep(microseconds: 100)
        }
        return true
    }

    /// Whether the VF's finite receive source produced its last frame and every frame of it is
    /// accounted for: the engine passed over the VF twice since that was first seen (so the
    /// last frame was dropped or written into a ring), and the receive rings are drained. False
    /// without a source or with an endless one.
    public var hasDeliveredAllInput: Bool {
        guard isReceiveSourceExhausted else { return false }
        let passes = engine.passCount
        let seen = sourceExhaustedAtPass.load(ordering: .acquiring)
        if seen == 0 {
            sourceExhaustedAtPass.store(passes &+ 1, ordering: .releasing)
            return false
        }
        return passes >= seen &+ 2 && receiveRingsDrained
    }
}
