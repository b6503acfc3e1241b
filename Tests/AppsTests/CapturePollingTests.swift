import Foundation
import PMDCore
import PcapIO
import Synchronization
import Testing
import TestSupport
import VFSimulator
@testable import Apps
#if canImport(Glibc)
import Glibc
#endif

/// `capture --poll`: an adaptive capture of an idle simulated VF sleeps on the VF's interrupts
/// (its receive thread uses a small part of a CPU), the frames that come later wake it and are
/// all captured byte for byte; busy and interrupt polling capture the same; a port that cannot
/// interrupt is refused by interrupt mode and polled busily by adaptive mode; no eventfd leaks.
@Suite(.serialized)
struct CapturePollingTests {
    static let mac = "02:00:00:00:00:02"

    /// CPU seconds the calling thread has used (user and system).
    static func threadCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(__rusage_who_t(1), &usage)  // RUSAGE_THREAD
        func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }

    /// The capture VF `cap` (cabled to `peer`, so that it is no finite source) and its peer,
    /// opened for `policy`, in a lab of their own.
    static func openPorts(_ family: String, policy: PollingPolicy, lab: SimulatedLab) throws -> [OpenedPort] {
        let specs = ["sim:\(family),name=cap,link=peer,mac=\(mac)", "sim:\(family),name=peer"]
        return try OpenedPort.openAll(specs.map { try PortSpec(parsing: $0).withInterrupts(policy.interruptSettings) }, lab: lab)
    }

    /// What a capture run on its own thread saw.
    final class Run: @unchecked Sendable {
        // @unchecked: written by the capture thread before `done` is signalled, read after.
        var summary: Result<CaptureSummary, any Error>?
        var polling: [PollingActivity] = []
        /// (seconds since the start, the capture thread's CPU seconds) at each report.
        var reports: [(elapsed: Double, cpu: Double)] = []
        /// MSI-X messages the capture VF's queue vector sent.
        var messages: UInt64 = 0
        let done = DispatchSemaphore(value: 0)
        let engine: CaptureEngine
        init(engine: CaptureEngine) { self.engine = engine }
    }

    /// Captures the frames of pcaps/sizes.pcap from `cap` on a thread of its own, sending them
    /// after `idleSeconds`; returns the run, the frames sent and the frames of the file.
    func capture(family: String, policy: PollingPolicy, idleSeconds: Double) throws -> (Run, [[UInt8]], [[UInt8]]) {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let lab = SimulatedLab()
        let opened = try Self.openPorts(family, policy: policy, lab: lab)
        let vf = try #require(lab.simulatedVF(behind: opened[0].port))
        let wire = FrameQueue()
        vf.connect(rx: wire)
        let input = try PcapReader(path: samplePath("sizes.pcap")).readAll().map(\.bytes)
        var options = CaptureOptions(output: dir + "/out.pcap")
        options.count = UInt64(input.count)
        options.durationSeconds = 30
        options.reportIntervalSeconds = 0.25
        options.polling = policy
        let engine = try CaptureEngine(port: opened[0].port, options: options)
        let run = Run(engine: engine)
        let thread = Thread {
            run.summary = Result { try run.engine.run(report: { _, elapsed, _ in run.reports.append((elapsed, Self.threadCPUSeconds())) }) }
            run.polling = run.engine.polling
            run.done.signal()
        }
        thread.start()
        // In two halves, 0.3 s apart: each comes to a sleeping thread (a half may come while
        // it is between two sleeps, a few hundred microseconds in every 100 ms, longer on a
        // loaded machine; then the re-check before the sleep finds it).
        for (index, frame) in input.enumerated() {
            if index == 0 { Thread.sleep(forTimeInterval: idleSeconds) }
            if index == input.count / 2 { Thread.sleep(forTimeInterval: 0.3) }
            frame.withUnsafeBytes { _ = wire.enqueue($0.baseAddress!, length: $0.count, timestamp: 0) }
        }
        #expect(run.done.wait(timeout: .now() + 20) == .success)
        run.messages = vf.interruptMessages(vector: 0)
        #expect(OpenedPort.closeAll(opened).isEmpty)
        #expect(vf.violations.isEmpty && vf.dmaFaults == 0)
        let written = try PcapReader(path: dir + "/out.pcap").readAll().map(\.bytes)
        return (run, input, written)
    }

    @Test("an adaptive capture of an idle VF sleeps on its interrupts, then captures every frame that comes byte for byte",
          arguments: ["ixgbevf", "igbvf"])
    func adaptiveSleepsWhileIdle(family: String) throws {
        let (run, input, written) = try capture(family: family, policy: PollingPolicy(mode: .adaptive), idleSeconds: 2)
        let summary = try #require(try run.summary?.get())
        #expect(summary.reason == .countReached)
        #expect(written == input)
        let activity = try #require(run.polling.first)
        #expect(activity.mode == .adaptive)
        #expect(activity.asleepSeconds > 1, "\(activity)")
        #expect(activity.wakeUps >= 1, "\(activity), \(run.messages) messages, \(summary.elapsedSeconds) s")
        // The receive thread's CPU time over the idle reports: a small part of the wall time.
        let idle = run.reports.filter { $0.elapsed > 0.4 && $0.elapsed < 1.9 }
        let first = try #require(idle.first), last = try #require(idle.last)
        #expect(last.elapsed - first.elapsed > 0.7)
        let share = (last.cpu - first.cpu) / (last.elapsed - first.elapsed)
        #expect(share < 0.2, "the idle capture thread used \(share * 100) % of a CPU")
    }

    @Test("busy and interrupt polling capture every frame too; busy never sleeps",
          arguments: [PollingMode.busy, .interrupt], ["ixgbevf", "igbvf"])
    func otherModesCaptureEveryFrame(mode: PollingMode, family: String) throws {
        let (run, input, written) = try capture(family: family, policy: PollingPolicy(mode: mode), idleSeconds: 0.5)
        #expect(try run.summary?.get().reason == .countReached)
        #expect(written == input)
        let activity = try #require(run.polling.first)
        #expect(activity.mode == mode)
        if mode == .busy {
            #expect(activity.asleepSeconds == 0 && activity.wakeUps == 0)
        } else {
            #expect(activity.asleepSeconds > 0.2 && activity.wakeUps >= 1, "\(activity)")
        }
    }

    @Test("interrupt polling refuses a pcap port with one sentence, before starting it; adaptive polls it busily")
    func aPortThatCannotInterrupt() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let port = try PcapPort(name: "pcap:rx=sizes", rxPath: samplePath("sizes.pcap"), txPath: nil, loop: 1, portNumber: 0)
        defer { port.close() }
        var options = CaptureOptions(output: dir + "/a.pcap")
        options.polling = PollingPolicy(mode: .interrupt)
        let refused = try CaptureEngine(port: port, options: options)
        #expect {
            _ = try refused.run()
        } throws: { error in
            "\(error)" == "--poll interrupt: port pcap:rx=sizes cannot wake the capture by an interrupt "
                + "(only pci: and sim: ports opened in interrupt mode can); use --poll adaptive, which polls it busily"
        }
        options.output = dir + "/b.pcap"
        options.polling = PollingPolicy(mode: .adaptive)
        let adaptive = try CaptureEngine(port: port, options: options)
        let summary = try adaptive.run()
        #expect(summary.reason == .sourceExhausted && summary.counters.written == 14)
        #expect(adaptive.polling == [PollingActivity(mode: .busy)])
        #expect(try PcapReader(path: dir + "/b.pcap").readAll().map(\.bytes) == PcapReader(path: samplePath("sizes.pcap")).readAll().map(\.bytes))
    }

    @Test("adaptive captures opened and closed over and over leave no eventfd open")
    func noDescriptorLeaks() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        func openDescriptors() -> Int { (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? -1 }
        var counts: [Int] = []
        for cycle in 0..<21 {
            let lab = SimulatedLab()
            let opened = try Self.openPorts("ixgbevf", policy: PollingPolicy(mode: .adaptive, idleMicroseconds: 1), lab: lab)
            var options = CaptureOptions(output: dir + "/c.pcap")
            options.durationSeconds = 0.05
            options.polling = PollingPolicy(mode: .adaptive, idleMicroseconds: 1)
            let engine = try CaptureEngine(port: opened[0].port, options: options)
            _ = try engine.run()
            #expect(engine.polling.first?.mode == .adaptive)
            #expect(OpenedPort.closeAll(opened).isEmpty)
            if cycle == 0 || cycle == 20 { counts.append(openDescriptors()) }
        }
        // Each cycle's two ports hold four eventfds: a leak would add 80.
        #expect(counts[1] - counts[0] < 16, "file descriptors \(counts)")
    }
}
