import PcapIO

/// Whether a capture holds the frames of another, as a wire delivers them: `expected` played
/// `repeat` times, frames shorter than `minimumFrame` bytes padded with zeros to it (Ethernet
/// pads short frames). Both files are read as streams, record by record.
public struct CaptureComparison: Sendable {
    /// The outcome.
    public enum Verdict: Equatable, Sendable {
        /// Every frame equal; this many frames.
        case identical(frames: Int)
        /// Frame `index` (0-based) of the actual capture differs from the expected one.
        case differs(index: Int, detail: String)
    }

    /// The reference capture.
    public var expected: String
    /// The capture to check.
    public var actual: String
    /// Times the reference was played.
    public var repeatCount = 1
    /// Shortest frame on the wire (60: minimum Ethernet frame without FCS); 0 compares as is.
    public var minimumFrame = 60

    /// A comparison of `actual` against `expected`.
    public init(expected: String, actual: String) {
        self.expected = expected
        self.actual = actual
    }

    /// Reads both captures and compares them.
    public func run() throws(PcapError) -> Verdict {
        let originals = try PcapReader(path: expected).readAll().map(\.bytes)
        let reference = originals.map { bytes in
            bytes.count < minimumFrame ? bytes + [UInt8](repeating: 0, count: minimumFrame - bytes.count) : bytes
        }
        let reader = try PcapReader(path: actual)
        defer { reader.close() }
        let total = reference.count * repeatCount
        var index = 0
        while let frame = try reader.next() {
            guard index < total else {
                return .differs(index: index, detail: "\(actual) has more frames than the \(total) expected")
            }
            let want = reference[index % reference.count]
            if frame.bytes != want {
                let at = zip(frame.bytes, want).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(frame.bytes.count, want.count)
                let original = originals[index % reference.count].count
                let padding = original < want.count
                    ? "; the reference frame has \(original) bytes, padded with zeros to \(want.count) as a wire delivers it"
                        + " (--minimum-frame 0 compares it unpadded)"
                    : ""
                return .differs(index: index, detail: "frame \(index + 1) differs from frame \(index % reference.count + 1) of \(expected) at byte \(at) (lengths \(frame.bytes.count) and \(want.count))" + padding)
            }
            index += 1
        }
        guard index == total else {
            return .differs(index: index, detail: "\(actual) has \(index) frames; \(total) were expected")
        }
        return .identical(frames: total)
    }
}
