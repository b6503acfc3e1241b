/// The classic pcap file layout, as the writer lays it out: a 24-byte file header, then
/// records of a 16-byte header followed by the captured bytes. Every field is in the byte
/// order of the host, as readers expect of a file whose magic reads right.
@usableFromInline
enum PcapFileFormat {
    /// Bytes of the file header.
    static let fileHeaderBytes = 24
    /// Bytes of a record header.
    @inlinable static var recordHeaderBytes: Int { 16 }
    /// Offset of a record header's captured length (after the seconds and the fraction).
    static let capturedLengthOffset = 8
    /// Major and minor version of the format.
    static let majorVersion: UInt16 = 2
    static let minorVersion: UInt16 = 4
    /// Link type of Ethernet (LINKTYPE_ETHERNET).
    static let ethernetLinkType: UInt32 = 1

    /// The magic number of a file whose timestamps have `precision`.
    static func magic(_ precision: TimestampPrecision) -> UInt32 {
        precision == .nanosecond ? 0xA1B2_3C4D : 0xA1B2_C3D4
    }

    /// The file header of an Ethernet capture.
    static func fileHeader(snapLength: Int, precision: TimestampPrecision) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: fileHeaderBytes) { bytes, count in
            storeFileHeader(at: bytes.baseAddress!, snapLength: snapLength, precision: precision)
            count = fileHeaderBytes
        }
    }

    /// Stores the file header of an Ethernet capture at `destination` (24 bytes).
    static func storeFileHeader(at destination: UnsafeMutableRawPointer, snapLength: Int, precision: TimestampPrecision) {
        destination.storeBytes(of: magic(precision), toByteOffset: 0, as: UInt32.self)
        destination.storeBytes(of: majorVersion, toByteOffset: 4, as: UInt16.self)
        destination.storeBytes(of: minorVersion, toByteOffset: 6, as: UInt16.self)
        // Time zone offset and timestamp accuracy: always zero.
        destination.storeBytes(of: Int32(0), toByteOffset: 8, as: Int32.self)
        destination.storeBytes(of: UInt32(0), toByteOffset: 12, as: UInt32.self)
        destination.storeBytes(of: UInt32(truncatingIfNeeded: snapLength), toByteOffset: 16, as: UInt32.self)
        destination.storeBytes(of: ethernetLinkType, toByteOffset: 20, as: UInt32.self)
    }

    /// Stores a record header at `record`: the time `wallNanoseconds` after the epoch (its
    /// fraction in nanoseconds when `nanosecond`, else microseconds), the captured and the
    /// original length.
    @inlinable
    static func storeRecordHeader(at record: UnsafeMutableRawPointer, wallNanoseconds: UInt64, nanosecond: Bool,
                                  captured: Int, originalLength: Int) {
        let seconds = wallNanoseconds / 1_000_000_000
        let fraction = wallNanoseconds &- seconds &* 1_000_000_000
        record.storeBytes(of: UInt32(truncatingIfNeeded: seconds), toByteOffset: 0, as: UInt32.self)
        record.storeBytes(of: UInt32(truncatingIfNeeded: nanosecond ? fraction : fraction / 1000), toByteOffset: 4, as: UInt32.self)
        record.storeBytes(of: UInt32(truncatingIfNeeded: captured), toByteOffset: 8, as: UInt32.self)
        record.storeBytes(of: UInt32(truncatingIfNeeded: originalLength), toByteOffset: 12, as: UInt32.self)
    }

    /// The whole records at the start of the `length` bytes at `records` (records laid out
    /// back to back, as the writer's buffer holds them): how many, the bytes they span, and
    /// their frame bytes. A record cut short by the end of the bytes is not counted.
    static func wholeRecords(in records: UnsafeRawPointer, length: Int) -> (count: Int, bytes: Int, captured: Int) {
        var count = 0
        var offset = 0
        var capturedBytes = 0
        while offset + recordHeaderBytes <= length {
            let captured = records.loadUnaligned(fromByteOffset: offset + capturedLengthOffset, as: UInt32.self)
            let end = offset + recordHeaderBytes + Int(captured)
            guard end <= length else { break }
            offset = end
            count += 1
            capturedBytes += Int(captured)
        }
        return (count, offset, capturedBytes)
    }
}
