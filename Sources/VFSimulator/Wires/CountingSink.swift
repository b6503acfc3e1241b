import Synchronization

/// A sink that only counts frames and bytes: the far end of a benchmark.
///
/// It exists for the benchmarks (Benchmarks/): unlike `MemorySink` it copies nothing and takes no
/// lock, so what a benchmark measures is the device model and the driver, not the wire.
public final class CountingSink: FrameSink, @unchecked Sendable {
    // @unchecked: only atomics.
    private let frameCount = Atomic<UInt64>(0)
    private let byteCount = Atomic<UInt64>(0)

    /// A sink at zero.
    public init() {}

    /// Frames received.
    public var frames: UInt64 { frameCount.load(ordering: .relaxed) }
    /// Bytes received (without CRC).
    public var bytes: UInt64 { byteCount.load(ordering: .relaxed) }
    /// Never drops.
    public var drops: UInt64 { 0 }

    public func push(_ batch: FrameBatch, now: UInt64) -> Int {
        var b = 0
        for i in 0..<batch.count { b &+= batch[i].length }
        frameCount.add(UInt64(batch.count), ordering: .relaxed)
        byteCount.add(UInt64(b), ordering: .relaxed)
        return batch.count
    }
}
