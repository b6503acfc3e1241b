import Benchmark
import PMDCore
import PcapIO
#if canImport(Glibc)
import Glibc
#endif

/// Writing 64-byte frames to a pcap file on tmpfs (/dev/shm): the capture writer alone, in
/// bursts of 64 as `vfpmd capture` writes them. Line rate of 10 GbE is 14.88 Mpps.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.cpuTotal, .wallClock, .throughput, .mallocCountTotal],
        scalingFactor: .mega,
        maxDuration: .seconds(3)
    )

    Benchmark("pcap write 64-byte frames to tmpfs, bursts of 64 (per frame)") { benchmark in
        let path = "/dev/shm/vfpmd-pcap-bench-\(getpid()).pcap"
        defer { unlink(path) }
        let pool = try Mempool(name: "bench", capacity: 64, pages: .smallPages)
        var batch = PacketBatch(pool: pool.ref)
        for _ in 0..<64 {
            let index = pool.ref.take()!
            pool.ref.data(index).initializeMemory(as: UInt8.self, repeating: 0xAB, count: 64)
            pool.ref.metadata(index).pointee.length = 64
            pool.ref.metadata(index).pointee.timestamp = TSC.now()
            batch.appendOwnedIndex(index)
        }
        let writer = try RotatingPcapWriter(pattern: path, wallNanoseconds: MonotonicClock.wallNanoseconds())
        var stamper = WallClockStamper()
        let bursts = (benchmark.scaledIterations.count + 63) / 64
        benchmark.startMeasurement()
        for _ in 0..<bursts {
            stamper.refresh()
            try writer.beginBurst(wallNanoseconds: stamper.wallNow)
            let result = writer.write(batch, stamper: stamper, filter: nil, maxRecords: Int.max)
            blackHole(result.written)
        }
        try writer.close()
        benchmark.stopMeasurement()
        batch.removeAll()
        precondition(pool.inUse == 0)
    }
}
