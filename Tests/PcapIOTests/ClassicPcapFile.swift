import Foundation
@testable import PcapIO

/// A classic pcap file laid out byte by byte, in either byte order, for the reader tests: what
/// the reader must make of it is known without reading it.
struct ClassicPcapFile {
    /// One record as it is stored.
    struct Record {
        var seconds: UInt32
        var fraction: UInt32
        var bytes: [UInt8]
        var originalLength: UInt32
        /// The captured length field when it is to lie about `bytes.count`.
        var capturedLengthField: UInt32?

        /// A record of `length` bytes that differ from record to record (`seed`).
        static func frame(_ length: Int, seed: Int, seconds: UInt32 = 1_767_225_600, fraction: UInt32 = 0) -> Record {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ seed &* 13) }
            return Record(seconds: seconds &+ UInt32(seed), fraction: fraction, bytes: bytes,
                          originalLength: UInt32(length), capturedLengthField: nil)
        }
    }

    /// Fields in the byte order opposite to the host's.
    var swapped = false
    var nanosecond = false
    var snapLength: UInt32 = 262_144
    var version: (major: UInt16, minor: UInt16) = (2, 4)
    var linkType: UInt32 = 1
    /// A magic number other than the one `nanosecond` selects.
    var magic: UInt32?
    var records: [Record] = []

    /// The file's bytes.
    var bytes: [UInt8] {
        var out: [UInt8] = []
        func put<T: FixedWidthInteger>(_ value: T) {
            withUnsafeBytes(of: swapped ? value.byteSwapped : value) { out += $0 }
        }
        put(magic ?? (nanosecond ? 0xA1B2_3C4D : 0xA1B2_C3D4) as UInt32)
        put(version.major)
        put(version.minor)
        put(Int32(0))
        put(UInt32(0))
        put(snapLength)
        put(linkType)
        for record in records {
            put(record.seconds)
            put(record.fraction)
            put(record.capturedLengthField ?? UInt32(record.bytes.count))
            put(record.originalLength)
            out += record.bytes
        }
        return out
    }

    /// The frames a reader gives for the records: at most the snap length (libpcap's rule: 0 or
    /// above 262144 means 262144) of each, timestamps in nanoseconds, before 1970 as 0 (libpcap
    /// reads the fields as signed in a file of the host's byte order, unsigned in the other).
    var frames: [PcapFrame] {
        let snap = snapLength == 0 || snapLength > 262_144 ? 262_144 : Int(snapLength)
        return records.map { record in
            let seconds = swapped ? Int64(record.seconds) : Int64(Int32(bitPattern: record.seconds))
            let fraction = (swapped ? Int64(record.fraction) : Int64(Int32(bitPattern: record.fraction))) * (nanosecond ? 1 : 1000)
            return PcapFrame(bytes: Array(record.bytes.prefix(snap)), originalLength: Int(record.originalLength),
                             timestampNanoseconds: UInt64(max(0, seconds)) * 1_000_000_000 + UInt64(max(0, fraction)))
        }
    }

    /// Writes the file (its first `length` bytes when given) at `path`.
    func write(to path: String, length: Int? = nil) throws {
        let all = bytes
        try Data(all.prefix(length ?? all.count)).write(to: URL(fileURLWithPath: path))
    }
}
