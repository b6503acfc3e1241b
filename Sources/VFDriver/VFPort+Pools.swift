import PMDCore

extension VFPort {
    /// The RX queues' pools: what received packets come from.
    public var receivePools: [Mempool] { rxPools }

    /// Buffers of the RX pools not back in them: 0 after `close()`, when the rings gave
    /// every buffer back.
    public var buffersInUse: Int { rxPools.reduce(0) { $0 + $1.inUse } }
}
