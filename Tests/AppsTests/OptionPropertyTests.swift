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
                    case let .sim(_, d), let .pci(_, d): driver = d
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

    static let input = samplePath("sizes.pcap")
    static let commands: [(options: [String], base: [String])] = [
        (["--burst", "--queues", "--count", "--duration"],
         ["forward", "--port", "pcap:rx=\(input)", "--port", "pcap:tx=/dev/null"]),
        (["-c", "-s", "-C", "-G", "--duration"], ["capture", "--port", "pcap:rx=\(input)", "-w", "/dev/null"]),
        (["--repeat", "--minimum-frame"], ["compare", input, input]),
    ]

    @Test("every numeric option of every command, through the executable: no signal, a failure is one error line")
    func executable() async throws {
        let vfpmd = try vfpmdExecutable()
        let pick = Gen.int(in: 0...(Self.commands.count - 1))
        await propertyCheck(count: 60, input: pick, Gen.int(in: 0...4), Self.numbers) { c, o, value in
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
