import Apps
import ArgumentParser
import PcapIO

/// `vfpmd compare`: checks that a capture holds exactly the frames of another, as a wire
/// delivers them (short frames padded to 60 bytes).
struct CompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Check that a capture holds exactly the frames of another (played N times, short frames padded).",
        discussion: "Exit status 0 when identical, 1 with the first difference otherwise."
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The reference capture.")
    var expected: String

    @Argument(help: "The capture to check.")
    var actual: String

    @Option(name: .long, parsing: .unconditional, help: "Times the reference was played.")
    var `repeat`: Int = 1

    @Option(name: .long, parsing: .unconditional, help: "Pad reference frames shorter than this to it (0: no padding).")
    var minimumFrame: Int = 60

    func validate() throws {
        try OptionRanges.whole(`repeat`, in: 1...Int(Int32.max), option: "--repeat")
        try OptionRanges.whole(minimumFrame, in: 0...262_144, option: "--minimum-frame")
    }

    func run() throws {
        global.bootstrapLogging()
        var comparison = CaptureComparison(expected: expected, actual: actual)
        comparison.repeatCount = `repeat`
        comparison.minimumFrame = minimumFrame
        let verdict: CaptureComparison.Verdict
        do { verdict = try comparison.run() } catch { throw CommandFailure(error.description) }
        switch verdict {
        case .identical(let frames):
            print("identical: \(frames) frames")
        case .differs(_, let detail):
            throw CommandFailure(detail)
        }
    }
}
