import Foundation
import PMDCore
import PropertyBased
import Testing
import TestSupport
import VFDriver
@testable import Apps

/// Random values, extremes among them, for every numeric option and port-spec key: a value
/// is accepted exactly when it is in the range the driver and the engines accept, and every
/// refusal is one sentence; the executable never dies by a signal.
@Suite("option parsing, property-based")
struct OptionPropertyTests {
    /// Numbers as users type them, clumsy and hostile ones included.
    static var numbers: Generator<String, some Sequence & SendableMetatype> { Gen.oneOf(
        Gen.int(in: -5...70_000).map { String($0) },
        Gen.int(in: Int.min...Int.max).map { String($0) },
        Gen.double(in: -1e6...1e6).map { String($0) },
        Gen.element(of: ["inf", "-inf", "nan", "1e300", "-0", "0", "18446744073709551616", "9223372036854775808",
                         "0x10", "", " 5", "4096", "4095", "9706", "9707", "63", "64", "8", "9"]).compactMap { $0 }) }

    @Test("a driver setting in a sim: or pci: spec parses exactly when the driver accepts it")
    func driverKeys() async {
        await propertyCheck(count: 400, input: Gen.element(of: PortSpecParser.driverKeys).compactMap { $0 }, Self.numbers) { key, value in
            for head in ["sim:x550vf", "pci:01:10.0"] {
                let text = "\(head),\(key)=\(value)"
                do {
                    let spec = try PortSpec(parsing: text)
                    let driver: VFPortConfiguration
                    switch spec.kind {
                    case let .sim(_, d), let .pci(_, d, _): driver = d
                    case .pcap: Issue.record("\(text) is a pcap spec"); return
                    }
                    #expect(throws: Never.self, "\(text) parsed but the driver refuses it") { try driver.validateRanges() }
                } catch {
                    #expect("\(error)".hasPrefix("bad port spec: \(key)="), "\(text): \(error)")
                    #expect("\(error)".split(separator: "\n").count == 4)
                }
            }
        }
    }

    @Test("loop= of sim: and pcap: specs: whole numbers from 0 to 2^31-1, anything else one sentence")
    func loopKey() async {
        await propertyCheck(count: 200, input: Self.numbers) { value in
            for head in ["sim:ixgbevf,rx=a.pcap", "pcap:rx=a.pcap"] {
                let text = "\(head),loop=\(value)"
                let accepted = Int(value).map { (0...Int(Int32.max)).contains($0) } ?? false
                do {
                    _ = try PortSpec(parsing: text)
                    #expect(accepted, "\(text) parsed")
                } catch {
                    #expect(!accepted, "\(text): \(error)")
                }
            }
        }
    }

    @Test("--poll-idle (1 to 1000000) and --moderation (0 to 1000): whole microseconds, anything else one sentence naming the option")
    func pollingMicroseconds() async {
        await propertyCheck(count: 300, input: Self.numbers) { value in
            let idleAccepted = Int(value).map { PollingPolicy.idleRange.contains($0) } ?? false
            do {
                let policy = try PollingPolicy(mode: nil, idle: value, moderation: nil, defaultMode: .adaptive)
                #expect(idleAccepted && policy.idleMicroseconds == Int(value), "--poll-idle \(value) accepted")
            } catch {
                #expect(!idleAccepted, "--poll-idle \(value): \(error)")
                #expect("\(error)".hasPrefix("--poll-idle \(value): give whole microseconds from 1 to 1000000"))
                #expect(!"\(error)".contains("\n"))
            }
            let moderationAccepted = Int(value).map { InterruptSettings.moderationRange.contains($0) } ?? false
            do {
                let policy = try PollingPolicy(mode: "interrupt", idle: nil, moderation: value, defaultMode: .adaptive)
                #expect(moderationAccepted && policy.interruptSettings?.moderationMicroseconds == Int(value), "--moderation \(value) accepted")
            } catch {
                #expect(!moderationAccepted, "--moderation \(value): \(error)")
                #expect("\(error)".hasPrefix("--moderation \(value): give whole microseconds from 0 to 1000"))
            }
        }
    }

    @Test("--poll takes busy, adaptive or interrupt; --poll-idle only with adaptive, --moderation not with busy")
    func pollingCombinations() throws {
        #expect(try PollingPolicy(mode: nil, idle: nil, moderation: nil, defaultMode: .adaptive)
            == PollingPolicy(mode: .adaptive, idleMicroseconds: 200, moderationMicroseconds: 0))
        #expect(try PollingPolicy(mode: "busy", idle: nil, moderation: nil, defaultMode: .adaptive).interruptSettings == nil)
        #expect(throws: PollingOptionError(description: "--poll spin: give busy, adaptive or interrupt")) {
            try PollingPolicy(mode: "spin", idle: nil, moderation: nil, defaultMode: .adaptive)
        }
        #expect(throws: PollingOptionError(description: "--poll-idle is the idle time of --poll adaptive; leave it out with --poll interrupt")) {
            try PollingPolicy(mode: "interrupt", idle: "50", moderation: nil, defaultMode: .adaptive)
        }
        #expect(throws: PollingOptionError(description: "--moderation paces the interrupts of --poll adaptive or interrupt; leave it out with --poll busy")) {
            try PollingPolicy(mode: "busy", idle: nil, moderation: "10", defaultMode: .adaptive)
        }
    }

    @Test("forward and bench take --poll, --poll-idle and --moderation as capture does, with busy their default: a refusal is the parser's one sentence")
    func pollingOptionsOfForwardAndBench() async throws {
        let vfpmd = try vfpmdExecutable()
        let modes = Gen.element(of: [nil, "busy", "adaptive", "interrupt", "spin", ""] as [String?]).compactMap { $0 }
        let values = Gen.oneOf(Self.numbers.map { Optional($0) }, Gen.always(nil as String?))
        let bases = [["forward", "--port", "pcap:rx=\(Self.input)", "--port", "pcap:tx=/dev/null"],
                     ["bench", "--mode", "rx", "--duration", "0.2", "--port", "pcap:rx=\(Self.input)"]]
        await propertyCheck(count: 40, input: Gen.int(in: 0...1), modes, values, values) { base, mode, idle, moderation in
            var arguments = bases[base]
            if let mode { arguments += ["--poll", mode] }
            if let idle { arguments += ["--poll-idle=\(idle)"] }
            if let moderation { arguments += ["--moderation=\(moderation)"] }
            guard let run = try? runProcess(vfpmd, arguments) else { Issue.record("\(arguments) did not run"); return }
            let errors = run.stderr.split(separator: "\n").filter { $0.hasPrefix("error: ") }
            do {
                let policy = try PollingPolicy(mode: mode, idle: idle, moderation: moderation, defaultMode: .busy)
                if policy.mode == .interrupt {
                    // The ports are pcap ports: they cannot interrupt.
                    #expect(run.status == 1 && run.stderr.hasPrefix("error: --poll interrupt: port pcap:") && errors.count == 1,
                            "\(arguments): \(run.stderr)")
                } else {
                    #expect(run.status == 0, "\(arguments): \(run.stderr)")
                }
            } catch {
                // `--poll-idle=` with nothing after it takes the next argument as its value (numeric
                // options take what follows them, so that `-5` is a value): the refusal names the
                // option, or is the argument parser's when nothing follows.
                let first = run.stderr.split(separator: "\n").first.map(String.init) ?? ""
                let emptyValue = idle == "" || moderation == ""
                let named = first.hasPrefix("error: --poll-idle ") || first.hasPrefix("error: --moderation ")
                    || first.hasPrefix("error: Missing value for '--")
                #expect(run.status == 64 && errors.count == 1 && (emptyValue ? named : first.hasPrefix("error: \(error)")),
                        "\(arguments): \(run.stderr)")
            }
        }
    }

    @Test("snaplen= of --mirror: whole numbers from 1 to 262144, anything else one sentence")
    func mirrorSnapLength() async {
        await propertyCheck(count: 300, input: Self.numbers) { value in
            let text = "0:rx=m.pcapng,snaplen=\(value)"
            let accepted = Int(value).map { (1...MirrorSpec.maximumSnapLength).contains($0) } ?? false
            do {
                let spec = try MirrorSpec(parsing: text)
                #expect(accepted && spec.snapLength == Int(value), "\(text) parsed")
            } catch {
                #expect(!accepted, "\(text): \(error)")
                #expect("\(error)".hasPrefix("--mirror \(text): snaplen=\(value) is not"), "\(text): \(error)")
                #expect(!"\(error)".contains("\n"))
            }
        }
    }

    /// `--mirror` values users get wrong: an unknown port (by number or name), a bad direction,
    /// no file, a bad filter, snap lengths out of range.
    static let badMirrors = ["2=m.pcapng", "nosuch=m.pcapng", "0:up=m.pcapng", "0:=m.pcapng", "0=", "=m.pcapng",
                             "0", "0=m.pcapng,filter=", "0=m.pcapng,filter=udp port", "0=m.pcapng,filter=nonsense words",
                             "0=m.pcapng,snaplen=0", "0=m.pcapng,snaplen=-1", "0=m.pcapng,snaplen=1e300",
                             "0=m.pcapng,snaplen=18446744073709551616", "0=m.pcapng,snaplen=inf", "0=m.pcapng,snaplen=5,snaplen=6"]

    @Test("a bad --mirror, through the executable: one error line and a non-zero exit before any port or file is opened")
    func badMirrorThroughExecutable() async throws {
        let vfpmd = try vfpmdExecutable()
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        await propertyCheck(count: 40, input: Gen.element(of: Self.badMirrors).compactMap { $0 }, Self.numbers) { mirror, value in
            let out = dir + "/out.pcap"
            let text = mirror.replacingOccurrences(of: "m.pcapng", with: dir + "/m.pcapng") + (mirror.contains("snaplen") ? "" : ",snaplen=\(value)")
            let arguments = ["forward", "--port", "pcap:rx=\(Self.input)", "--port", "pcap:tx=\(out)", "--mirror", text]
            guard let run = try? runProcess(vfpmd, arguments) else { Issue.record("\(arguments) did not run"); return }
            #expect(run.status != 0 && [1, 64].contains(run.status), "\(arguments): status \(run.status)")
            let errors = run.stderr.split(separator: "\n").filter { $0.hasPrefix("error: ") }
            #expect(run.stderr.hasPrefix("error: --mirror ") && errors.count == 1, "\(arguments): \(run.stderr)")
            #expect(!FileManager.default.fileExists(atPath: out), "\(arguments): a port was opened")
            #expect(!FileManager.default.fileExists(atPath: dir + "/m.pcapng"), "\(arguments): the mirror was opened")
        }
    }

    static let input = samplePath("sizes.pcap")
    static let commands: [(options: [String], base: [String])] = [
        (["--burst", "--queues", "--count", "--duration", "--poll-idle", "--moderation"],
         ["forward", "--port", "pcap:rx=\(input)", "--port", "pcap:tx=/dev/null", "--poll", "adaptive"]),
        (["-c", "-s", "-C", "-G", "--duration", "--poll-idle", "--moderation"], ["capture", "--port", "pcap:rx=\(input)", "-w", "/dev/null"]),
        (["--repeat", "--minimum-frame"], ["compare", input, input]),
    ]

    @Test("every numeric option of every command, through the executable: no signal, a failure is one error line")
    func executable() async throws {
        let vfpmd = try vfpmdExecutable()
        let pick = Gen.int(in: 0...(Self.commands.count - 1))
        await propertyCheck(count: 60, input: pick, Gen.int(in: 0...6), Self.numbers) { c, o, value in
            let command = Self.commands[c]
            let option = command.options[o % command.options.count]
            let arguments = command.base + [option, value]
            guard let run = try? runProcess(vfpmd, arguments) else { Issue.record("\(arguments) did not run"); return }
            #expect([0, 1, 64].contains(run.status), "\(arguments): status \(run.status)")
            if run.status != 0 {
                let first = run.stderr.split(separator: "\n").first ?? ""
                #expect(first.hasPrefix("error: "), "\(arguments): \(run.stderr)")
                #expect(run.stderr.split(separator: "\n").filter { $0.hasPrefix("error: ") }.count == 1, "\(arguments): \(run.stderr)")
            }
        }
    }
}
