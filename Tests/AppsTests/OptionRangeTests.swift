import Foundation
import Testing
import TestSupport

/// Every numeric option of every command at its extremes (`inf`, `1e300`, 2^64, 0, negatives,
/// `nan`), and pairings that give a queue two owners, through the built `vfpmd`: the process
/// never dies by a signal, the first line of standard error is the one `error:` sentence, and
/// the exit status is non-zero.
@Suite("numeric options at their extremes (the executable)")
struct OptionRangeTests {
    static let input = samplePath("udp64x256.pcap")
    static let forward = ["forward", "--port", "pcap:rx=\(input)", "--port", "pcap:tx=/dev/null"]
    static let capture = ["capture", "--port", "pcap:rx=\(input)", "-w", "/dev/null"]
    static let bench = ["bench", "--port", "sim:ixgbevf", "--mode", "tx"]

    static let cases: [(arguments: [String], firstLine: String)] = {
        var list: [([String], String)] = []
        for value in ["inf", "-inf", "1e300", "nan", "0", "-1", "18446744073709551616"] {
            list.append((forward + ["--duration", value], "--duration"))
            list.append((capture + ["--duration", value], "--duration"))
            list.append((bench + ["--duration", value], "--duration"))
            list.append((capture + ["-C", value], "-C"))
        }
        for value in ["0", "-5", "18446744073709551616", "9223372036854775807"] {
            list.append((forward + ["--queues", value], "--queues"))
            list.append((bench + ["--queues", value], "--queues"))
            list.append((forward + ["--burst", value], "--burst"))
            list.append((capture + ["-G", value], "-G"))
            if value != "0" { list.append((capture + ["-s", value], "-s")) }   // -s 0: the whole frame, as tcpdump
            list.append((bench + ["--flows", value], "--flows"))
            list.append((bench + ["--size", value], "--size"))
            list.append((forward + ["--cores", value], value == "0" ? "" : "--cores"))
        }
        for empty in ["", ","] {
            list.append((forward + ["--cores", empty], "--cores"))
            list.append((bench + ["--cores", empty], "--cores"))
        }
        list.append((forward + ["--count", "0"], "--count"))
        list.append((capture + ["-c", "0"], "-c"))
        for rate in ["1e30", "inf", "nan", "-1", "0", "200%", "0%", "1e300Gbps"] {
            list.append((bench + ["--rate", rate, "--duration", "1"], "--rate"))
        }
        // One queue, two owners.
        list.append((forward + ["--pairs", "0:1,0:1"], "port 0 is in the pairs"))
        list.append((forward + ["--pairs", "0:1,1:0"], "is in the pairs"))
        return list.filter { !$0.1.isEmpty }
    }()

    /// A writer that fails makes the command fail, naming the file, whichever wire or port
    /// wrote it.
    @Test(arguments: [
        ["forward", "--port", "sim:ixgbevf,rx=\(input),loop=4,mac=02:00:00:00:00:02", "--port", "sim:ixgbevf,tx=/dev/full,spoofchk=off"],
        ["forward", "--port", "pcap:rx=\(input)", "--port", "pcap:tx=/dev/full"],
        ["capture", "--port", "pcap:rx=\(input),loop=4", "-w", "/dev/full"],
    ])
    func aFullDiskFailsTheCommand(arguments: [String]) throws {
        let run = try runProcess(try vfpmdExecutable(), arguments)
        #expect(run.status == 1, "\(arguments): \(run.stderr)")
        let errors = run.stderr.split(separator: "\n").filter { $0.hasPrefix("error: ") }
        #expect(errors.count == 1 && errors[0].contains("/dev/full"), "\(arguments): \(run.stderr)")
    }

    @Test(arguments: cases)
    func extremeValueIsOneErrorLine(arguments: [String], firstLine: String) throws {
        let run = try runProcess(try vfpmdExecutable(), arguments)
        // terminationStatus of a signalled process is the signal number with reason uncaught
        // signal; a clean exit here is 1 (run-time sentence) or 64 (command line).
        #expect(run.status == 1 || run.status == 64, "\(arguments): status \(run.status), \(run.stderr)")
        let first = run.stderr.split(separator: "\n").first.map(String.init) ?? ""
        #expect(first.hasPrefix("error: ") && first.contains(firstLine), "\(arguments): \(run.stderr)")
    }
}
