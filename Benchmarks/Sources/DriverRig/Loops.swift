import PMDCore
import VFDriver

/// The measured loops: each runs `rounds` rounds of one engine step and 64 packets of driver
/// work in bursts of `burst`, and returns the packets the driver handled.
extension DriverRig {
    /// RX-only: receive on `a` and drop (the buffers go back to `a`'s pool).
    @inline(never)
    public func receiveOnly(rounds: Int) -> Int {
        var batch = PacketBatch(burst: burst)
        var received = 0
        var r = 0
        while r < rounds {
            stepDevice()
            var handled = 0
            while handled < Self.packetsPerRound {
                let n = portA.receive(queue: 0, into: &batch)
                if n == 0 { break }
                handled &+= n
                batch.removeAll()
            }
            received &+= handled
            r &+= 1
        }
        return received
    }

    /// TX-only: take prebuilt frames from `txPool` and send them on `b` (as testpmd's txonly
    /// takes a buffer per packet); sent buffers return to the pool when the ring reclaims them.
    @inline(never)
    public func transmitOnly(rounds: Int) -> Int {
        let pool = txPool.ref
        var batch = PacketBatch(pool: pool, burst: burst)
        var sent = 0
        var r = 0
        while r < rounds {
            stepDevice()
            var handled = 0
            while handled < Self.packetsPerRound {
                batch.compact()
                while batch.count < burst, let index = pool.take() { batch.appendOwnedIndex(index) }
                let n = portB.transmit(queue: 0, &batch)
                if n == 0 { break }
                handled &+= n
            }
            sent &+= handled
            r &+= 1
        }
        batch.removeAll()
        return sent
    }

    /// Forward: receive on `a`, send the same buffers on `b` unchanged (zero copy).
    @inline(never)
    public func forward(rounds: Int) -> Int {
        var batch = PacketBatch(burst: burst)
        var forwarded = 0
        var r = 0
        while r < rounds {
            stepDevice()
            var handled = 0
            while handled < Self.packetsPerRound {
                let n = portA.receive(queue: 0, into: &batch)
                if n == 0 { break }
                handled &+= n
                forwarded &+= portB.transmit(queue: 0, &batch)
            }
            r &+= 1
        }
        batch.removeAll()
        return forwarded
    }
}
