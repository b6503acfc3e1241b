import Benchmark
import PMDCore

/// Mempool: take and return a burst of 32 buffers, as an RX refill and a TX completion do.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.cpuTotal, .wallClock, .throughput, .mallocCountTotal],
        scalingFactor: .kilo,
        maxDuration: .seconds(2),
        // Mallocs stay 0; times may move 50 % at the median on this noisy 2-vCPU machine.
        thresholds: [
            .mallocCountTotal: .init(absolute: [.p90: 0]),
            .cpuTotal: .init(relative: [.p50: 50]),
            .wallClock: .init(relative: [.p50: 50]),
            .throughput: .init(relative: [.p50: 50]),
        ]
    )

    Benchmark("Mempool take+give burst 32 (per burst)") { benchmark in
        let pool = try Mempool(name: "bench", capacity: 4096, pages: .preferHugepages)
        var indices = [UInt32](repeating: 0, count: 32)
        benchmark.startMeasurement()
        indices.withUnsafeMutableBufferPointer { out in
            for _ in benchmark.scaledIterations {
                let n = pool.ref.take(into: out.baseAddress!, count: 32)
                for i in 0..<n { pool.ref.give(out[i]) }
            }
        }
        benchmark.stopMeasurement()
        precondition(pool.inUse == 0)
    }

    Benchmark("PacketBatch fill+drop 32 (per burst)") { benchmark in
        let pool = try Mempool(name: "bench", capacity: 4096, pages: .preferHugepages)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            var batch = PacketBatch(pool: pool.ref)
            for _ in 0..<32 {
                guard let index = pool.ref.take() else { break }
                batch.appendOwnedIndex(index)
            }
            blackHole(batch.count)
        }
        benchmark.stopMeasurement()
        precondition(pool.inUse == 0)
    }
}
