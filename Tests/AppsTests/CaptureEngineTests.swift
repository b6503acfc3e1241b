import Foundation
import PMDCore
import PcapIO
import Synchronization
import Testing
import TestSupport
@testable import Apps

/// A two-queue port made for the tests: queue q delivers frames whose first byte is q, a
/// fixed number per queue, and reports ring drops in `rxMissed`. An endless one stays running
/// (receiving nothing) once its frames were delivered. Its statistics may be read from another
/// thread (a lock); reading them takes `statsReadMicroseconds`, and the receive calls made
/// while a read was under way are counted.
final class TwoQueueTestPort: PMDCore.Port, @unchecked Sendable {
    let name = "two-queue test port"
    let queueCount = 2
    let macAddress = MACAddress(2, 0, 0, 0, 0, 9)
    var link: LinkStatus { LinkStatus(isUp: true, speedMbps: 10_000) }
    var stats: PortStats { state.withLock { $0.stats } }
    var isExhausted: Bool { state.withLock { $0.remaining.allSatisfy { $0 == 0 } } }
    /// How long a statistics read takes.
    var statsReadMicroseconds = 0
    /// Receive calls made while a statistics read was under way.
    var receivesDuringStatsRead: Int { state.withLock { $0.receivesDuringStatsRead } }
    /// Statistics reads done.
    var statsReads: Int { state.withLock { $0.statsReads } }
    var condition: PortCondition { isExhausted && !endless ? .inputExhausted : .running }
    let pool: Mempool
    var buffersInUse: Int { pool.inUse }
    var receivePools: [Mempool] { [pool] }
    func mapForTransmit(_ pool: Mempool) throws {}
    private typealias State = (remaining: [Int], stats: PortStats, readingStats: Bool, receivesDuringStatsRead: Int, statsReads: Int)
    /// The state both threads touch, under a lock the thread sanitizer sees.
    private let state: Locked<State>
    private let missed: UInt64
    private let endless: Bool

    init(framesPerQueue: Int, missed: UInt64, endless: Bool = false) throws {
        pool = try Mempool(name: "test", capacity: 256, pages: .smallPages)
        state = Locked(([framesPerQueue, framesPerQueue], PortStats(), false, 0, 0))
        self.missed = missed
        self.endless = endless
    }

    func start() throws {}
    func stop() {}
    func close() {}
    func receive(queue: Int, into batch: inout PacketBatch) -> Int {
        guard batch.adopt(pool: pool.ref) else { return 0 }
        batch.compact()
        var n = 0
        state.withLock { if $0.readingStats { $0.receivesDuringStatsRead += 1 } }
        while n < 10, state.withLock({ $0.remaining[queue] }) > 0, let index = pool.ref.take() {
            let meta = pool.ref.metadata(index)
            meta.pointee = PacketMetadata()
            meta.pointee.length = 64
            meta.pointee.queue = UInt16(queue)
            meta.pointee.timestamp = TSC.now()
            pool.ref.data(index).initializeMemory(as: UInt8.self, repeating: UInt8(queue), count: 64)
            batch.appendOwnedIndex(index)
            state.withLock { $0.remaining[queue] -= 1 }
            n += 1
        }
        return n
    }
    func transmit(queue: Int, _ batch: inout PacketBatch) -> Int { 0 }
    func updateStats() {
        state.withLock { $0.readingStats = true }
        if statsReadMicroseconds > 0 { usleep(UInt32(statsReadMicroseconds)) }
        let exhausted = isExhausted
        state.withLock {
            $0.stats.rxMissed = exhausted ? missed : 0
            $0.readingStats = false
            $0.statsReads += 1
        }
    }
    func updateStatsBesideBursts() -> Bool {
        updateStats()
        return false
    }
}

@Suite("CaptureEngine")
struct CaptureEngineTests {
    func pcapPort(_ spec: String) throws -> PcapPort {
        try #require(OpenedPort.open(PortSpec(parsing: spec)).port as? PcapPort)
    }

    @Test("a pcap source captured to the end is byte-exact with its timestamps; counters add up",
          arguments: ["sizes.pcap", "protocols.pcap", "jumbo.pcap", "udp64x256.pcap"])
    func wholeSource(name: String) throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let port = try pcapPort("pcap:rx=" + samplePath(name))
        let engine = try CaptureEngine(port: port, options: CaptureOptions(output: dir + "/out.pcap"))
        let summary = try engine.run()
        port.close()
        let input = try PcapReader(path: samplePath(name)).readAll()
        #expect(summary.reason == .sourceExhausted)
        #expect(summary.counters.received == UInt64(input.count))
        #expect(summary.counters.written == UInt64(input.count))
        #expect(summary.counters.addsUp)
        #expect(try PcapReader(path: dir + "/out.pcap").readAll() == input)
        #expect(port.pool?.inUse == 0)
        try expectReadableByTools(dir + "/out.pcap", frames: input.count)
    }

    @Test("a filter writes exactly the matching frames and counts the others")
    func filtered() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let port = try pcapPort("pcap:rx=" + samplePath("protocols.pcap"))
        var options = CaptureOptions(output: dir + "/vlan.pcap")
        options.filter = "vlan"
        let summary = try CaptureEngine(port: port, options: options).run()
        port.close()
        let input = try PcapReader(path: samplePath("protocols.pcap")).readAll()
        let written = try PcapReader(path: dir + "/vlan.pcap").readAll()
        #expect(written == [input[5], input[6]])
        #expect(summary.counters.filteredOut == 8)
        #expect(summary.counters.addsUp)
    }

    @Test("-c stops at the count; the rest of that burst is counted, not lost")
    func count() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let port = try pcapPort("pcap:rx=" + samplePath("udp64x256.pcap") + ",loop=0")
        var options = CaptureOptions(output: dir + "/c.pcap")
        options.count = 100
        let summary = try CaptureEngine(port: port, options: options).run()
        port.close()
        #expect(summary.reason == .countReached)
        #expect(summary.counters.written == 100)
        #expect(summary.counters.leftAtStop == summary.counters.received - 100)
        #expect(summary.counters.addsUp)
        #expect(try PcapReader(path: dir + "/c.pcap").readAll().count == 100)
        #expect(port.pool?.inUse == 0)
    }

    @Test("--duration and a stop request end an endless source; the file holds every frame written")
    func durationAndInterrupt() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let looped = "pcap:rx=" + samplePath("udp64x256.pcap") + ",loop=0"
        var options = CaptureOptions(output: dir + "/d.pcap")
        options.durationSeconds = 0.3
        var port = try pcapPort(looped)
        let timed = try CaptureEngine(port: port, options: options).run()
        port.close()
        #expect(timed.reason == .durationElapsed)
        #expect(timed.counters.written > 0 && timed.counters.addsUp)
        #expect(try PcapReader(path: dir + "/d.pcap").readAll().count == Int(timed.counters.written))

        port = try pcapPort(looped)
        var polls = 0
        let stopped = try CaptureEngine(port: port, options: CaptureOptions(output: dir + "/i.pcap")).run(shouldStop: {
            polls += 1
            return polls > 50
        })
        port.close()
        #expect(stopped.reason == .interrupted)
        #expect(try PcapReader(path: dir + "/i.pcap").readAll().count == Int(stopped.counters.written))
        #expect(stopped.counters.addsUp)
    }

    @Test("frames received and then nothing: they reach the file within the flush interval, long before the report")
    func flushInterval() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let out = dir + "/quiet.pcap"
        let port = try TwoQueueTestPort(framesPerQueue: 5, missed: 0, endless: true)
        var options = CaptureOptions(output: out)
        options.reportIntervalSeconds = 60
        let engine = try CaptureEngine(port: port, options: options)
        let start = Date()
        var sizeWhileRunning: Int?
        let summary = try engine.run(shouldStop: {
            guard Date().timeIntervalSince(start) >= 0.5 else { return false }
            sizeWhileRunning = try? FileManager.default.attributesOfItem(atPath: out)[.size] as? Int
            return true
        })
        #expect(summary.reason == .interrupted && summary.counters.written == 10)
        // The file header and ten records of 64 bytes, written while the capture ran.
        #expect(sizeWhileRunning == 24 + 10 * (16 + 64))
    }

    @Test("a port whose statistics take 300 ms to read never stops the capture's polling: they are read beside it")
    func statisticsBesideTheBursts() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let port = try TwoQueueTestPort(framesPerQueue: 5, missed: 0, endless: true)
        port.statsReadMicroseconds = 300_000
        var options = CaptureOptions(output: dir + "/slow-stats.pcap")
        options.reportIntervalSeconds = 0.1
        options.durationSeconds = 1
        var reports = 0
        let summary = try CaptureEngine(port: port, options: options).run(report: { _, _, _ in reports += 1 })
        #expect(summary.reason == .durationElapsed && summary.counters.written == 10)
        #expect(reports >= 5)
        // The receive thread went on polling during every read but the last (after it stopped):
        // a bound on the gaps between polls in time would measure the machine's scheduler.
        #expect(port.statsReads >= 2)
        #expect(port.receivesDuringStatsRead >= port.statsReads - 1,
                "\(port.receivesDuringStatsRead) polls during \(port.statsReads) reads")
    }

    @Test("every RX queue is captured and the ring's drops are reported")
    func allQueuesAndRingDrops() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let port = try TwoQueueTestPort(framesPerQueue: 35, missed: 7)
        let summary = try CaptureEngine(port: port, options: CaptureOptions(output: dir + "/q.pcap")).run()
        let frames = try PcapReader(path: dir + "/q.pcap").readAll()
        #expect(frames.filter { $0.bytes[0] == 0 }.count == 35)
        #expect(frames.filter { $0.bytes[0] == 1 }.count == 35)
        #expect(summary.counters.received == 70 && summary.counters.written == 70)
        #expect(summary.counters.droppedByRing == 7)
        #expect(summary.text.contains("dropped by ring                7"))
        #expect(port.pool.inUse == 0)
        // TSC receive times became wall-clock times of this run (within a minute).
        let now = MonotonicClock.wallNanoseconds()
        #expect(frames.allSatisfy { $0.timestampNanoseconds <= now && now - $0.timestampNanoseconds < 60_000_000_000 })
    }

    @Test("-C through the engine rotates, and the files together hold every frame")
    func rotation() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let port = try pcapPort("pcap:rx=" + samplePath("sizes.pcap") + ",loop=20")
        var options = CaptureOptions(output: dir + "/r.pcap")
        options.rotation = RotationPolicy(maxFileBytes: 50_000)
        let summary = try CaptureEngine(port: port, options: options).run()
        port.close()
        #expect(summary.files.count == 4)
        let input = try PcapReader(path: samplePath("sizes.pcap")).readAll()
        let back = try summary.files.flatMap { try PcapReader(path: $0).readAll() }
        #expect(back == Array(repeating: input, count: 20).flatMap { $0 })
        for file in summary.files { try expectReadableByTools(file, frames: try PcapReader(path: file).readAll().count) }
    }

    @Test("an invalid filter fails before any file is created")
    func badFilter() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let port = try pcapPort("pcap:rx=" + samplePath("sizes.pcap"))
        var options = CaptureOptions(output: dir + "/never.pcap")
        options.filter = "tcp port http and"
        #expect(throws: PcapError.self) { _ = try CaptureEngine(port: port, options: options) }
        #expect(!FileManager.default.fileExists(atPath: dir + "/never.pcap"))
        port.close()
    }
}
