import Foundation
import PMDCore
import PcapIO
import Synchronization
import Testing
import TestSupport
@testable import Apps

/// The capture's writer on its own thread: a writer that cannot keep up costs counted frames,
/// never the receive side's pace, and a writer that keeps up loses nothing.
@Suite("Capture writer thread", .serialized)
struct CaptureWriterThreadTests {
    /// A FIFO at `path` opened for reading without waiting for a writer; the descriptor.
    func openFIFO(_ path: String) throws -> Int32 {
        #expect(mkfifo(path, 0o600) == 0)
        let descriptor = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard descriptor >= 0 else { throw TestFailure("cannot open the FIFO \(path)") }
        return descriptor
    }

    /// Reads `descriptor` (made blocking) to its end.
    func readToEnd(_ descriptor: Int32) -> [UInt8] {
        _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) & ~O_NONBLOCK)
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            bytes += chunk[0..<n]
        }
        return bytes
    }

    @Test("a writer stuck on a FIFO nobody reads: the receive side drains the whole port all the same, every frame that did not fit is counted dropped by the writer, the FIFO gets exactly the frames counted written")
    func stuckWriter() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let fifo = dir + "/stuck.fifo"
        let reader = try openFIFO(fifo)
        defer { close(reader) }
        let frames = 40_000
        let port = try TwoQueueTestPort(framesPerQueue: frames / 2, missed: 0)
        var options = CaptureOptions(output: fifo)
        options.ringSlabs = 4
        options.ringSlabBytes = 64 * 1024
        let engine = try CaptureEngine(port: port, options: options)
        // Nobody reads until the port delivered its last frame: until then the writer is stuck
        // in a write once the pipe's buffer is full.
        let received = Mutex<[UInt8]?>(nil)
        let drainedWhileStuck = Atomic<Bool>(false)
        let readerThread = Thread {
            let end = Date().addingTimeInterval(60)
            while !port.isExhausted && Date() < end { usleep(1_000) }
            drainedWhileStuck.store(port.isExhausted, ordering: .relaxed)
            let bytes = readToEnd(reader)
            received.withLock { $0 = bytes }
        }
        readerThread.start()
        let summary = try engine.run()
        var bytes: [UInt8]?
        while bytes == nil {
            usleep(1_000)
            bytes = received.withLock { $0 }
        }
        let portDrainedFirst = drainedWhileStuck.load(ordering: .relaxed)
        #expect(portDrainedFirst)
        let c = summary.counters
        #expect(summary.reason == .sourceExhausted)
        #expect(c.received == UInt64(frames) && c.addsUp && c.filteredOut == 0 && c.leftAtStop == 0)
        #expect(c.droppedByWriter > 0 && c.written + c.droppedByWriter == UInt64(frames), "\(summary.text)")
        #expect(summary.text.split(separator: "\n").contains { $0.hasPrefix("  dropped by writer ") && $0.hasSuffix(" \(c.droppedByWriter)") })
        let file = dir + "/from-fifo.pcap"
        try Data(bytes ?? []).write(to: URL(fileURLWithPath: file))
        let written = try PcapReader(path: file).readAll()
        #expect(UInt64(written.count) == c.written)
        #expect(written.allSatisfy { $0.bytes.count == 64 && ($0.bytes[0] == 0 || $0.bytes[0] == 1) })
        #expect(port.pool.inUse == 0)
    }

    @Test("a pcapng capture whose writer falls behind: the interface's statistics block counts the frames it dropped (isb_osdrop) as the summary does")
    func droppedInStatistics() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let fifo = dir + "/stuck.fifo"
        let reader = try openFIFO(fifo)
        defer { close(reader) }
        let frames = 40_000
        let port = try TwoQueueTestPort(framesPerQueue: frames / 2, missed: 3)
        var options = CaptureOptions(output: fifo)
        options.pcapng = PcapngDescription(application: "test", interfaceName: "two-queue")
        options.ringSlabs = 4
        options.ringSlabBytes = 64 * 1024
        let engine = try CaptureEngine(port: port, options: options)
        let received = Mutex<[UInt8]?>(nil)
        let readerThread = Thread {
            let end = Date().addingTimeInterval(60)
            while !port.isExhausted && Date() < end { usleep(1_000) }
            let bytes = readToEnd(reader)
            received.withLock { $0 = bytes }
        }
        readerThread.start()
        let summary = try engine.run()
        var bytes: [UInt8]?
        while bytes == nil {
            usleep(1_000)
            bytes = received.withLock { $0 }
        }
        let file = dir + "/from-fifo.pcapng"
        try Data(bytes ?? []).write(to: URL(fileURLWithPath: file))
        let back = try PcapngTestReader(path: file)
        let c = summary.counters
        #expect(c.droppedByWriter > 0 && c.addsUp)
        #expect(UInt64(back.packets.count) == c.written)
        let statistics = try #require(back.statistics.last)
        #expect(statistics.counter(4) == c.received && statistics.counter(5) == 3)
        #expect(statistics.counter(6) == c.written + c.droppedByWriter && statistics.counter(7) == c.droppedByWriter)
        #expect(port.pool.inUse == 0)
    }

    @Test("a simulated VF replaying as fast as the simulator goes into tmpfs: the writer keeps up, no frame dropped by it, the file holds every frame")
    func fullRateToTmpfs() throws {
        let out = "/dev/shm/vfpmd-\(getpid())-full-rate.pcap"
        defer { unlink(out) }
        let lab = SimulatedLab()
        let opened = try OpenedPort.open(PortSpec(parsing: "sim:ixgbevf,rx=pcaps/udp64x256.pcap,loop=400,mac=02:00:00:00:00:02"),
                                         lab: lab)
        let summary = try CaptureEngine(port: opened.port, options: CaptureOptions(output: out)).run()
        #expect(OpenedPort.closeAll([opened]).isEmpty)
        let c = summary.counters
        #expect(summary.reason == .sourceExhausted && c.addsUp)
        #expect(c.droppedByWriter == 0 && c.droppedByRing == 0, "\(summary.text)")
        #expect(c.received == 400 * 256 && c.written == c.received, "\(summary.text)")
        #expect(try PcapReader(path: out).readAll().count == Int(c.written))
        #expect(opened.port.buffersInUse == 0)
    }

    @Test("into a FIFO the writer writes out whenever it caught up: a reader sees the frames long before the flush interval")
    func streamsWhenCaughtUp() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let fifo = dir + "/live.fifo"
        let reader = try openFIFO(fifo)
        defer { close(reader) }
        let port = try TwoQueueTestPort(framesPerQueue: 5, missed: 0, endless: true)
        var options = CaptureOptions(output: fifo)
        options.flushIntervalSeconds = 60
        options.reportIntervalSeconds = 0.2
        let engine = try CaptureEngine(port: port, options: options)
        let start = Date()
        var seenWhileRunning = 0
        var secondsToSee = Double.infinity
        var buffer = [UInt8](repeating: 0, count: 4096)
        let summary = try engine.run(shouldStop: {
            let n = buffer.withUnsafeMutableBytes { read(reader, $0.baseAddress, $0.count) }
            if n > 0 { seenWhileRunning += n }
            if seenWhileRunning >= 24 + 10 * 80 { secondsToSee = min(secondsToSee, Date().timeIntervalSince(start)) }
            return seenWhileRunning >= 24 + 10 * 80 || Date().timeIntervalSince(start) > 10
        })
        #expect(summary.reason == .interrupted && summary.counters.written == 10)
        // The file header and ten records of 64 bytes, read while the capture ran.
        #expect(seenWhileRunning == 24 + 10 * 80 && secondsToSee < 10)
    }
}
