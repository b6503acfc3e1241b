import CShims

/// A few 64-bit counters that one thread adds to (the thread that runs a queue's bursts) and
/// any thread reads (statistics beside the datapath): relaxed atomic loads and stores, which
/// are plain moves, so an addition costs what it did as a plain integer and a reader never
/// stops the writer. The memory lives until `deallocate()`.
@frozen
public struct SharedCounters: @unchecked Sendable {
    @usableFromInline let words: UnsafeMutablePointer<UInt64>
    /// Number of counters.
    public let count: Int

    /// `count` counters at zero.
    public init(count: Int) {
        words = .allocate(capacity: count)
        words.initialize(repeating: 0, count: count)
        self.count = count
    }

    /// Adds `amount` to counter `index` (from the one writing thread only).
    @inlinable
    public func add(_ amount: UInt64, to index: Int) { vfpmd_counter_add(words + index, amount) }

    /// Sets counter `index` to `value` (from the one writing thread only).
    @inlinable
    public func store(_ value: UInt64, at index: Int) { vfpmd_counter_store(words + index, value) }

    /// Counter `index`, from any thread.
    @inlinable
    public subscript(index: Int) -> UInt64 { vfpmd_counter_load(words + index) }

    /// Sets every counter to zero (while no thread adds to them).
    public func reset() { words.update(repeating: 0, count: count) }

    /// Frees the counters.
    public func deallocate() { words.deallocate() }
}
