/// One packet buffer, owned by exactly one place: a ring, a batch, this handle, or the pool.
///
/// Noncopyable: it cannot be sent twice or used after it went back to the pool. Dropping it
/// returns the buffer; `consumeIndex()` hands the raw index over (into a ring) without returning it.
@frozen
public struct Packet: ~Copyable {
    /// The pool the buffer belongs to.
    public let pool: PoolRef
    /// The buffer's index in its pool.
    public let index: UInt32

    /// Takes ownership of buffer `index` of `pool`.
    @inlinable
    public init(pool: PoolRef, index: UInt32) {
        self.pool = pool
        self.index = index
    }

    /// Takes a fresh buffer from `pool` with length 0, or nil when the pool is empty.
    @inlinable
    public init?(from pool: PoolRef) {
        guard let index = pool.take() else { return nil }
        self.init(pool: pool, index: index)
        pool.metadata(index).pointee = PacketMetadata()
    }

    @inlinable
    deinit { pool.give(index) }

    /// Gives up ownership and returns the raw index; the caller now owns the buffer.
    @inlinable
    public consuming func consumeIndex() -> UInt32 {
        let i = index
        discard self
        return i
    }

    /// First byte of the frame.
    @inlinable public var data: UnsafeMutableRawPointer { view.data }
    /// IOVA of the first byte of the frame.
    @inlinable public var iova: UInt64 { view.iova }
    /// The packet's metadata record.
    @inlinable public var metadata: UnsafeMutablePointer<PacketMetadata> { view.metadata }
    /// The packet's flags, software and device (see `PacketView.flags`).
    @inlinable public var flags: PacketFlags { view.flags }
    /// Frame length in bytes.
    @inlinable public var length: Int {
        get { view.length }
        nonmutating set { view.length = newValue }
    }
    /// The frame's bytes.
    @inlinable public var bytes: UnsafeMutableRawBufferPointer { view.bytes }
    /// A non-owning view of the same buffer.
    @inlinable public var view: PacketView { PacketView(pool: pool, index: index) }
}

/// A non-owning view of a packet that something else owns (a batch): for reading and
/// rewriting bytes in place. Valid only while the owner holds the packet.
@frozen
public struct PacketView {
    /// The pool the buffer belongs to.
    public let pool: PoolRef
    /// The buffer's index in its pool.
    public let index: UInt32

    /// A view of buffer `index` of `pool`.
    @inlinable
    public init(pool: PoolRef, index: UInt32) {
        self.pool = pool
        self.index = index
    }

    /// First byte of the frame.
    @inlinable public var data: UnsafeMutableRawPointer { pool.data(index) }
    /// IOVA of the first byte of the frame.
    @inlinable public var iova: UInt64 { pool.iova(index) }
    /// The packet's metadata record.
    @inlinable public var metadata: UnsafeMutablePointer<PacketMetadata> { pool.metadata(index) }
    /// The packet's flags: those set in software (`PacketMetadata.flags`) and, for a packet a
    /// device received, those its receive status says (decoded with the pool's format).
    @inlinable public var flags: PacketFlags {
        let record = metadata.pointee
        return record.flags.union(pool.storage.pointee.receiveFormat.flags(status: record.receiveStatus, info: record.packetInfo))
    }
    /// Frame length in bytes.
    @inlinable public var length: Int {
        get { Int(metadata.pointee.length) }
        nonmutating set {
            precondition(newValue >= 0 && newValue <= pool.dataRoom, "packet length \(newValue) exceeds the buffer")
            metadata.pointee.length = UInt32(newValue)
        }
    }
    /// The frame's bytes.
    @inlinable public var bytes: UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(start: data, count: length)
    }
}
