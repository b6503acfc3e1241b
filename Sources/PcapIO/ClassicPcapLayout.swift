#if canImport(Glibc)
import Glibc
#endif

/// What the 24-byte header of a classic pcap file says about its records, for the files
/// `ClassicPcapCursor` reads itself: either byte order, microsecond or nanosecond timestamps,
/// version 2.4, link type Ethernet. Any other header (pcapng, older versions, other link types,
/// no header at all) is left to libpcap, which reads or refuses it with its own words.
struct ClassicPcapLayout: Equatable {
    /// Bytes of the file header.
    static let fileHeaderBytes = 24
    /// Bytes of a record header: seconds, fraction, captured length, original length.
    static let recordHeaderBytes = 16
    /// The largest captured length libpcap takes for Ethernet (its MAXIMUM_SNAPLEN); a record
    /// claiming more is malformed.
    static let maximumCapturedLength = 262_144

    /// Whether the fields are in the byte order opposite to the host's.
    var swapped: Bool
    /// Whether the record fractions count nanoseconds (else microseconds).
    var nanosecond: Bool
    /// The snap length as libpcap adjusts it: 0 or more than the maximum reads as the maximum.
    var snapLength: Int

    /// The layout of the file header at `header` (24 bytes), or nil when it is not one this
    /// reader takes.
    init?(fileHeader header: UnsafeRawPointer) {
        let magic = header.loadUnaligned(as: UInt32.self)
        switch magic {
        case 0xA1B2_C3D4: (swapped, nanosecond) = (false, false)
        case 0xA1B2_3C4D: (swapped, nanosecond) = (false, true)
        case 0xD4C3_B2A1: (swapped, nanosecond) = (true, false)
        case 0x4D3C_B2A1: (swapped, nanosecond) = (true, true)
        default: return nil
        }
        let swap = swapped
        func field32(_ offset: Int) -> UInt32 {
            let value = header.loadUnaligned(fromByteOffset: offset, as: UInt32.self)
            return swap ? value.byteSwapped : value
        }
        func field16(_ offset: Int) -> UInt16 {
            let value = header.loadUnaligned(fromByteOffset: offset, as: UInt16.self)
            return swap ? value.byteSwapped : value
        }
        guard field16(4) == PcapFileFormat.majorVersion, field16(6) == PcapFileFormat.minorVersion,
              field32(20) == PcapFileFormat.ethernetLinkType else { return nil }
        let snap = Int(field32(16))
        snapLength = snap == 0 || snap > Self.maximumCapturedLength ? Self.maximumCapturedLength : snap
    }
}

/// Why a record of a classic pcap file cannot be read, worded as libpcap words it (so a file
/// reads the same whichever of the two reads it).
enum ClassicPcapRecordFailure: Equatable, Error {
    /// The file ends inside a record header after `got` of its 16 bytes.
    case truncatedHeader(got: Int)
    /// The file ends after `got` of the `wanted` captured bytes.
    case truncatedData(wanted: Int, got: Int)
    /// The record claims more captured bytes than any Ethernet capture holds.
    case capturedLengthTooLarge(length: UInt32, snapLength: Int)
    /// read(2) failed with `errno`.
    case readFailed(errno: Int32)

    /// The reason, as libpcap gives it.
    var reason: String {
        switch self {
        case let .truncatedHeader(got):
            return "truncated dump file; tried to read \(ClassicPcapLayout.recordHeaderBytes) header bytes, only got \(got)"
        case let .truncatedData(wanted, got):
            return "truncated dump file; tried to read \(wanted) captured bytes, only got \(got)"
        case let .capturedLengthTooLarge(length, snapLength):
            return "invalid packet capture length \(length), bigger than snaplen of \(snapLength)"
        case let .readFailed(code):
            return "error reading dump file: \(String(cString: strerror(code)))"
        }
    }
}
