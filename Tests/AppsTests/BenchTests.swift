@testable import Apps
import PMDCore
import Testing

/// The traffic generator and meter: frames carry a probe the meter reads back; a cable loses
/// nothing and reorders nothing; rates and latency come out of the counters.
@Suite(.serialized)
struct BenchTests {
    @Test func templatesAreValidUDPFramesWithAProbe() {
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: 2048, alignment: 64)
        defer { buffer.deallocate() }
        for size in [64, 570, 1518] {
            let length = BenchFrame.writeTemplate(into: buffer, size: size, flow: 7,
                                                  source: MACAddress("02:00:00:00:00:01")!, destination: .broadcast)
            #expect(length == size - 4)
            let ip = IPv4Header(buffer + 14)
            #expect(ip.totalLength == UInt16(length - 14))
            #expect(ip.checksum == ip.computeChecksum())
            #expect(UDPHeader(buffer + 34).length == UInt16(length - 34))
            #expect(UDPHeader(buffer + 34).sourcePort == 1031)
            BenchFrame.stamp(buffer, sequence: 0xDEAD_BEEF, tsc: 42)
            let probe = BenchFrame.probe(buffer, length: length)
            #expect(probe?.flow == 7 && probe?.sequence == 0xDEAD_BEEF && probe?.tsc == 42)
        }
        #expect(BenchFrame.probe(buffer, length: 40) == nil)
    }

    /// Frames larger than a default buffer (2048 bytes) once overran the generator's template
    /// slots and pool buffers: every size up to the largest jumbo is sent whole.
    @Test(arguments: [2064, 4096, 9018])
    func framesLargerThanADefaultBufferAreSentWhole(size: Int) throws {
        let a = try MemoryPort(name: "a", frames: [], mac: MACAddress("02:00:00:00:00:0a")!)
        let b = try MemoryPort(name: "b", frames: [], mac: MACAddress("02:00:00:00:00:0b")!)
        a.peer = b
        var config = BenchConfiguration()
        config.mode = .loop
        config.sizes = [size]
        config.packetsPerSecond = 20_000
        // Long enough that a busy machine schedules the sending thread.
        config.duration = 1
        let bench = try Bench(ports: [opened(a), opened(b)], configuration: config)
        let summary = bench.run(report: { _ in })
        #expect(summary.ports[1].rxMpps > 0)
        #expect(summary.ports[1].lost == 0 && summary.ports[1].reordered == 0)
        #expect(OpenedPort.closeAll([opened(a), opened(b)]).isEmpty)
    }

    @Test func loopOverACableLosesAndReordersNothing() throws {
        let a = try MemoryPort(name: "a", frames: [], mac: MACAddress("02:00:00:00:00:0a")!)
        let b = try MemoryPort(name: "b", frames: [], mac: MACAddress("02:00:00:00:00:0b")!)
        a.peer = b
        var config = BenchConfiguration()
        config.mode = .loop
        config.sizes = BenchFrame.imix
        config.flows = 16
        config.packetsPerSecond = 200_000
        config.duration = 0.5
        config.latency = true
        let bench = try Bench(ports: [opened(a), opened(b)], configuration: config)
        let summary = bench.run(report: { _ in })
        let tx = summary.ports[0], rx = summary.ports[1]
        let sent = tx.queues.reduce(0) { $0 + $1.txPackets }
        let received = rx.queues.reduce(0) { $0 + $1.rxPackets }
        #expect(sent > 0)
        #expect(sent <= 120_000)              // paced: at most 200 kpps for about half a second
        #expect(received == sent)
        #expect(rx.lost == 0 && rx.reordered == 0)
        #expect(summary.latency?["b"]?.samples == received)
        #expect(summary.modelBusyPercent == nil)   // no simulated port: no model to report on
        #expect((summary.latency?["b"]?.p50 ?? 0) > 0)
        #expect(a.pool.inUse == 0)
    }

    @Test func meterCountsGapsAndLateFrames() throws {
        let port = try MemoryPort(name: "m", frames: [], mac: .broadcast)
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: 64, alignment: 64)
        defer { buffer.deallocate() }
        var frames: [[UInt8]] = []
        for seq: UInt32 in [0, 1, 2, 5, 6, 3, 7] {
            let n = BenchFrame.writeTemplate(into: buffer, size: 64, flow: 1, source: .broadcast, destination: .broadcast)
            BenchFrame.stamp(buffer, sequence: seq, tsc: 1)
            frames.append(Array(UnsafeRawBufferPointer(start: buffer, count: n)))
        }
        port.deliver(frames)
        let meter = TrafficMeter(port: port, queue: 0, recordLatency: false)
        while meter.poll() > 0 {}
        #expect(meter.packets.load(ordering: .relaxed) == 7)
        #expect(meter.lost.load(ordering: .relaxed) == 1)       // 3 and 4 were missing, 3 came late
        #expect(meter.reordered.load(ordering: .relaxed) == 1)
        #expect(meter.bytes.load(ordering: .relaxed) == 7 * 64)
    }
}
