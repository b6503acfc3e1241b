/// Frames on their way from a capture's receive thread to its writer: each copied, cut to the
/// snap length and with a stripped VLAN tag back in place, into a slab of memory the slab does
/// not own, back to back after a header of its own (its time, length, interface, and the
/// frames of its interface that did not reach the writer since the previous record).
///
/// A slab is filled by one thread and then read by another (`RotatingPcapWriter.write(_:)`);
/// the hand-over between them is the caller's (a ring of slabs). No allocation per frame.
/// A slab may instead hold pcap file records (`holdsPcapRecords`), which a pcap file's writer
/// writes as they lie, with no copy.
@frozen
public struct RecordSlab {
    /// Bytes of a record's header: time, filtered out before, dropped before (8 each),
    /// captured length, original length, interface (4 each), padding.
    @inlinable static var headerBytes: Int { 40 }

    @usableFromInline let base: UnsafeMutableRawPointer
    /// Bytes the slab may fill.
    public let capacity: Int
    /// Bytes filled.
    @usableFromInline var filled: Int
    /// Records in the slab.
    @usableFromInline var records: Int
    /// Bytes filled.
    @inlinable public var bytes: Int { filled }
    /// Records in the slab.
    @inlinable public var count: Int { records }
    /// The wall-clock time of the last burst whose frames went in (the writer's `-G` check).
    public var wallNanoseconds: UInt64
    /// Whether the slab holds pcap file records (`appendPcapRecord`), which the writer writes
    /// to a pcap file as they are, rather than records of its own layout. Set on an empty
    /// slab; `removeAll()` clears it.
    public var holdsPcapRecords: Bool
    /// Frame bytes of the pcap file records.
    @usableFromInline var pcapCapturedBytes: Int

    /// An empty slab of the `capacity` bytes at `base` (8-byte aligned).
    public init(base: UnsafeMutableRawPointer, capacity: Int) {
        precondition(Int(bitPattern: base) % 8 == 0, "a slab is 8-byte aligned")
        self.base = base
        self.capacity = capacity
        filled = 0
        records = 0
        wallNanoseconds = 0
        holdsPcapRecords = false
        pcapCapturedBytes = 0
    }

    /// Bytes of a slab that holds any one record of a frame cut to `snapLength` bytes.
    public static func leastCapacity(snapLength: Int) -> Int { recordBytes(captured: snapLength) }

    /// Bytes of the record of `captured` frame bytes (a multiple of 8).
    @inlinable static func recordBytes(captured: Int) -> Int { (headerBytes &+ captured &+ 7) & ~7 }

    /// Empties the slab (its memory is reused).
    public mutating func removeAll() {
        filled = 0
        records = 0
        holdsPcapRecords = false
        pcapCapturedBytes = 0
    }

    /// Appends the record of the `length`-byte frame at `data`, with `tag` put back after its
    /// addresses when given (see `PcapRecordSink.write(_:length:restoring:wallNanoseconds:)`),
    /// cut to `snapLength` bytes; `filteredBefore` and `droppedBefore` are the frames of
    /// `interface` not handed over since its previous record. Returns false, appending
    /// nothing, when the record does not fit.
    @inlinable
    public mutating func append(
        _ data: UnsafeRawPointer, length: Int, restoring tag: RestoredVLANTag?, snapLength: Int,
        wallNanoseconds: UInt64, interface: UInt32, filteredBefore: UInt64, droppedBefore: UInt64
    ) -> Bool {
        let restores = tag != nil && RestoredVLANTag.fits(frameLength: length)
        let originalLength = restores ? length &+ RestoredVLANTag.length : length
        let captured = originalLength < snapLength ? originalLength : snapLength
        let size = Self.recordBytes(captured: captured)
        guard bytes &+ size <= capacity else { return false }
        let record = base + bytes
        record.storeBytes(of: wallNanoseconds, toByteOffset: 0, as: UInt64.self)
        record.storeBytes(of: filteredBefore, toByteOffset: 8, as: UInt64.self)
        record.storeBytes(of: droppedBefore, toByteOffset: 16, as: UInt64.self)
        record.storeBytes(of: UInt32(truncatingIfNeeded: captured), toByteOffset: 24, as: UInt32.self)
        record.storeBytes(of: UInt32(truncatingIfNeeded: originalLength), toByteOffset: 28, as: UInt32.self)
        record.storeBytes(of: interface, toByteOffset: 32, as: UInt32.self)
        let frame = record + Self.headerBytes
        if restores, let tag {
            let addresses = RestoredVLANTag.addressesLength
            let prefix = addresses &+ RestoredVLANTag.length
            if captured <= addresses {
                frame.copyMemory(from: data, byteCount: captured)
            } else {
                frame.copyMemory(from: data, byteCount: addresses)
                withUnsafeBytes(of: tag.bytes) { raw in
                    frame.advanced(by: addresses).copyMemory(from: raw.baseAddress!,
                                                             byteCount: min(RestoredVLANTag.length, captured &- addresses))
                }
                if captured > prefix { (frame + prefix).copyMemory(from: data + addresses, byteCount: captured &- prefix) }
            }
        } else {
            frame.copyMemory(from: data, byteCount: captured)
        }
        filled &+= size
        records &+= 1
        return true
    }

    /// Appends the pcap file record of the `length`-byte frame at `data` cut to `snapLength`
    /// bytes, stamped `wallNanoseconds` after the epoch with a fraction in nanoseconds when
    /// `nanosecond` (else microseconds): the record a pcap file of that precision holds
    /// (`PcapRecordSink`). For a slab that `holdsPcapRecords`. Returns false, appending
    /// nothing, when the record does not fit.
    @inlinable
    public mutating func appendPcapRecord(_ data: UnsafeRawPointer, length: Int, snapLength: Int, wallNanoseconds: UInt64,
                                          nanosecond: Bool) -> Bool {
        let captured = length < snapLength ? length : snapLength
        let size = PcapFileFormat.recordHeaderBytes &+ captured
        guard bytes &+ size <= capacity else { return false }
        let record = base + bytes
        PcapFileFormat.storeRecordHeader(at: record, wallNanoseconds: wallNanoseconds, nanosecond: nanosecond,
                                         captured: captured, originalLength: length)
        (record + PcapFileFormat.recordHeaderBytes).copyMemory(from: data, byteCount: captured)
        filled &+= size
        records &+= 1
        pcapCapturedBytes &+= captured
        return true
    }

    /// Calls `body` with each record, front to back: its frame bytes, captured length, original
    /// length, time, interface, and the frames of its interface filtered out and dropped before it.
    /// For a slab of records of its own layout (not `holdsPcapRecords`).
    @inlinable
    public func forEach(
        _ body: (UnsafeRawPointer, _ captured: Int, _ originalLength: Int, _ wallNanoseconds: UInt64, _ interface: UInt32,
                 _ filteredBefore: UInt64, _ droppedBefore: UInt64) -> Void
    ) {
        var offset = 0
        while offset < bytes {
            let record = UnsafeRawPointer(base + offset)
            let captured = Int(record.load(fromByteOffset: 24, as: UInt32.self))
            body(record + Self.headerBytes, captured, Int(record.load(fromByteOffset: 28, as: UInt32.self)),
                 record.load(fromByteOffset: 0, as: UInt64.self), record.load(fromByteOffset: 32, as: UInt32.self),
                 record.load(fromByteOffset: 8, as: UInt64.self), record.load(fromByteOffset: 16, as: UInt64.self))
            offset &+= Self.recordBytes(captured: captured)
        }
    }
}
