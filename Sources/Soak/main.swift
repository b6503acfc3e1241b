// vfpmd-soak SECONDS PCAP: forwards between two simulated VFs for SECONDS while a fault
// thread injects random recoverable faults (PF resets, lost clear-to-send, link flaps, a
// stalled TX engine, write-backs longer than the buffer or without EOP, heads jumping back,
// statistics going backwards) into both VFs. At the end it checks the balance and the leaks:
//   packets in (received by the forwarder) = packets out (sent) + counted drops,
//   every pool whole, no DMA mapping left, no IOMMU fault, no file descriptor or memory growth,
// prints them, and exits 1 when any check fails.
import Apps
import Foundation
import PMDCore
import Synchronization
import VFSimulator

/// What the fault thread and the main thread share.
final class FaultControl: Sendable {
    let stop = Atomic(false)
    let injected = Atomic(0)
}

let arguments = CommandLine.arguments
guard arguments.count == 3, let seconds = Double(arguments[1]), seconds > 0 else {
    FileHandle.standardError.write("usage: vfpmd-soak SECONDS PCAP\n".data(using: .utf8)!)
    exit(2)
}
let input = arguments[2]

/// Open file descriptors of this process.
func openFileDescriptors() -> Int {
    (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? -1
}

/// Resident pages of this process.
func residentPages() -> Int {
    guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return -1 }
    let fields = text.split(separator: " ")
    return fields.count > 1 ? Int(fields[1]) ?? -1 : -1
}

/// One soak run; returns the sentences of the checks that failed.
func soak(round: Int, seconds: Double) throws -> [String] {
    let lab = SimulatedLab()
    let specs = ["sim:ixgbevf,name=in\(round),rx=\(input),loop=0,mac=02:00:00:00:00:02", "sim:x550vf,name=out\(round),spoofchk=off"]
    let opened = try OpenedPort.openAll(specs.map { try PortSpec(parsing: $0) }, lab: lab)
    let vfs = opened.compactMap { lab.simulatedVF(behind: $0.port) }
    var configuration = ForwardConfiguration()
    configuration.duration = seconds
    configuration.reportInterval = 0.1
    let forwarder = try Forwarder(ports: opened, configuration: configuration)
    for p in opened { try p.port.start() }

    let control = FaultControl()
    let faults = Thread {
        var generator = SystemRandomNumberGenerator()
        while !control.stop.load(ordering: .acquiring) {
            usleep(UInt32.random(in: 20_000...120_000, using: &generator))
            let vf = vfs.randomElement(using: &generator)!
            switch Int.random(in: 0..<9, using: &generator) {
            case 0: vf.inject(.pfReset(microseconds: Int.random(in: 100...20_000, using: &generator)))
            case 1: vf.inject(.clearToSendLoss)
            case 2: vf.setLink(up: false); usleep(5_000); vf.setLink(up: true)
            case 3: vf.inject(.txStall(true)); usleep(UInt32.random(in: 1_000...30_000, using: &generator)); vf.inject(.txStall(false))
            case 4: vf.inject(.rxLengthExceedsBuffer(queue: 0))
            case 5: vf.inject(.rxMissingEOP(queue: 0))
            case 6: vf.inject(.headJumpsBack(queue: 0, by: Int.random(in: 1...16, using: &generator)))
            case 7: vf.inject(.statisticsGoBackwards(by: UInt64.random(in: 1...1000, using: &generator)))
            default: vf.inject(.mailboxSilence(true)); usleep(2_000); vf.inject(.mailboxSilence(false))
            }
            control.injected.add(1, ordering: .relaxed)
        }
    }
    faults.start()
    let summary = forwarder.run { _ in }
    control.stop.store(true, ordering: .releasing)
    while !faults.isFinished { usleep(1_000) }
    vfs.forEach { $0.inject(.txStall(false)); $0.inject(.mailboxSilence(false)) }

    let totals = summary.ports
    let received = totals[0].received + totals[1].received
    let sent = totals[0].sent + totals[1].sent
    let dropped = totals[0].dropped + totals[1].dropped
    let resets = summary.portStats.map(\.resets).reduce(0, +)
    let rxErrors = summary.portStats.map(\.rxErrors).reduce(0, +)
    let problems = OpenedPort.closeAll(opened)
    var failures = problems
    print(String(format: "soak round %d: %.1f s, %d faults injected, %d re-initialisations", round, summary.seconds,
                 control.injected.load(ordering: .relaxed), resets))
    print("  packets in \(received) = packets out \(sent) + counted drops \(dropped)"
          + " (device-reported bad write-backs dropped before the forwarder: \(rxErrors))")
    print("  on the wire of \(specs[1]): \(vfs[1].counters.txFrames) frames")
    if received != sent + dropped { failures.append("packets in \(received) != out \(sent) + drops \(dropped)") }
    if received == 0 { failures.append("nothing was forwarded") }
    if vfs[1].counters.txFrames > sent { failures.append("more frames on the wire than sent") }
    let mappings = lab.container.mappedRegionCount
    let dmaFaults = lab.container.faults
    print("  DMA mappings left \(mappings), IOMMU faults \(dmaFaults.count)")
    if mappings != 0 { failures.append("\(mappings) DMA mappings left after close") }
    if !dmaFaults.isEmpty { failures.append("IOMMU faults: \(dmaFaults.prefix(3))") }
    for vf in vfs where !vf.violations.isEmpty { failures.append("\(vf.address): protocol violations \(vf.violations.prefix(3))") }
    return failures
}

// A short warm-up round, then the soak itself; descriptors and memory are compared between
// their ends (the warm-up makes what lives as long as the process: the stop signals' eventfd).
var failures = try soak(round: 0, seconds: min(2, seconds / 10))
let fdsAfterWarmUp = openFileDescriptors()
let pagesAfterWarmUp = residentPages()
failures += try soak(round: 1, seconds: seconds)
let fdsAfter = openFileDescriptors()
let pagesAfter = residentPages()
print("  file descriptors \(fdsAfterWarmUp) -> \(fdsAfter), resident pages \(pagesAfterWarmUp) -> \(pagesAfter)")
if fdsAfter != fdsAfterWarmUp { failures.append("file descriptors grew from \(fdsAfterWarmUp) to \(fdsAfter)") }
// Allow 8 MiB of allocator slack; a leak of rings or pools (several MiB per round) exceeds it.
if pagesAfter - pagesAfterWarmUp > 2048 { failures.append("resident memory grew by \((pagesAfter - pagesAfterWarmUp) * 4) KiB") }
if failures.isEmpty {
    print("soak: OK, zero leaks")
} else {
    for f in failures { print("soak: FAILED: \(f)") }
    exit(1)
}
