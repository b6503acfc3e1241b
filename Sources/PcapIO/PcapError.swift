/// What can go wrong reading, writing or filtering captures: each case renders as one sentence
/// that names the file (and record) and says what is wrong.
public enum PcapError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The capture could not be opened (missing, unreadable, not a pcap or pcapng file).
    case cannotOpen(path: String, reason: String)
    /// The capture's link type is not Ethernet.
    case notEthernet(path: String, linkType: String)
    /// Record `record` (counted from 1) is cut short or malformed; the records before it are whole.
    case malformedRecord(path: String, record: Int, reason: String)
    /// Record `record` holds a frame longer than the buffers it is read into.
    case frameTooLarge(path: String, record: Int, length: Int, bufferSize: Int)
    /// The output file could not be created.
    case cannotCreate(path: String, reason: String)
    /// Writing the output file failed (disk full, file too large, I/O error, closed pipe);
    /// `path` is `-` for standard output.
    case writeFailed(path: String, reason: String)
    /// The filter expression does not compile; `reason` is libpcap's text.
    case badFilter(expression: String, reason: String)
    /// The rotation settings cannot work (for example `-G` without a time pattern in the name).
    case badRotation(String)
    /// An output file is one this run reads.
    case outputIsInput(path: String)
    /// Another writer holds the output file's lock.
    case outputInUse(path: String)
    /// Several ports were to be captured into pcap files, which have one interface.
    case severalPortsNeedPcapng(ports: Int)

    public var description: String {
        switch self {
        case let .cannotOpen(path, reason):
            return "\(path): cannot open capture: \(reason)"
        case let .notEthernet(path, linkType):
            return "\(path): link type \(linkType) is not Ethernet; vfpmd reads only Ethernet (DLT_EN10MB) captures"
        case let .malformedRecord(path, record, reason):
            let before = record - 1
            return "\(path): record \(record) is truncated or malformed (\(reason)); "
                + "the \(before) record\(before == 1 ? "" : "s") before it \(before == 1 ? "is" : "are") whole"
        case let .frameTooLarge(path, record, length, bufferSize):
            return "\(path): record \(record) holds a \(length)-byte frame, larger than the \(bufferSize)-byte packet buffers"
        case let .cannotCreate(path, reason):
            return "\(path): cannot create capture file: \(reason)"
        case let .writeFailed(path, reason):
            return "writing \(path == CaptureFiles.standardOutputName ? "standard output" : path): \(reason)"
        case let .badFilter(expression, reason):
            return "invalid filter expression '\(expression)': \(reason)"
        case let .badRotation(text):
            return text
        case let .outputIsInput(path):
            return "\(path) is also an input of this run: writing it would destroy what is being read; write to another file"
        case let .outputInUse(path):
            return "\(path) is being written by another capture (it holds the file's lock): stop that one or write to another file"
        case let .severalPortsNeedPcapng(ports):
            return "\(ports) ports in one capture need pcapng (a file name ending in .pcapng, or --pcapng): a pcap file has one interface"
        }
    }
}
