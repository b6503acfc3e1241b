import PcapIO
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The bounded single-producer, single-consumer ring of record slabs between a capture's
/// receive thread and its writer thread. Every slab's memory is allocated (and touched) once
/// when the ring is made; a frame is copied once into a slab and the pool buffer goes back at
/// once, so no buffer waits on the disk.
///
/// The producer fills the slab at `published` and publishes it (`publish()`); the consumer
/// writes the slab at `released` and releases it. Two counters, each stored by one side only,
/// with release/acquire ordering: a slab's bytes are visible to the consumer once the
/// counter that publishes it is.
final class CaptureRing: @unchecked Sendable {
    /// Slabs in the ring.
    let slotCount: Int
    /// Bytes of each slab.
    let slotBytes: Int
    private let memory: UnsafeMutableRawPointer
    /// Whether `memory` is a mapping of its own (else the allocator's).
    private let isMapped: Bool
    private let slabs: UnsafeMutablePointer<RecordSlab>
    /// Slabs published by the producer (a count: slab `n % slotCount` is the n-th).
    private let published = Atomic<Int>(0)
    /// Slabs the consumer is done with.
    private let released = Atomic<Int>(0)
    /// Set by the producer once it published its last slab.
    private let finished = Atomic<Bool>(false)
    /// The producer's open slab: slabs it published before it (only the producer reads it).
    @exclusivity(unchecked) private var producerNext = 0
    /// Whether the producer has a slab open (at `producerNext`).
    @exclusivity(unchecked) private var producerHasSlab = false
    /// Wakes the consumer when it sleeps for want of slabs.
    let doorbell = RingDoorbell()

    /// A ring of `slotCount` slabs of `slotBytes` bytes each.
    init(slotCount: Int, slotBytes: Int) {
        precondition(slotCount >= 1 && slotBytes >= 64, "a ring needs at least one slab")
        let pageBytes = 4096
        self.slotCount = slotCount
        self.slotBytes = (slotBytes + pageBytes - 1) / pageBytes * pageBytes
        // Populated now, so that no page fault waits inside a burst: pages the kernel maps
        // zeroed (no pass over them here), or, should the mapping fail, the allocator's touched.
        let bytes = slotCount * self.slotBytes
        if let mapped = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0),
           mapped != MAP_FAILED {
            memory = mapped
            isMapped = true
        } else {
            memory = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: pageBytes)
            memory.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
            isMapped = false
        }
        slabs = UnsafeMutablePointer<RecordSlab>.allocate(capacity: slotCount)
        for slot in 0..<slotCount {
            (slabs + slot).initialize(to: RecordSlab(base: memory + slot * self.slotBytes, capacity: self.slotBytes))
        }
    }

    deinit {
        slabs.deinitialize(count: slotCount)
        slabs.deallocate()
        if isMapped { munmap(memory, slotCount * slotBytes) } else { memory.deallocate() }
    }

    // MARK: Producer (the receive thread)

    /// The producer's open slab, opening the next free one; nil when every slab is published
    /// and not yet released (the ring is full).
    @inline(__always)
    func openSlab() -> UnsafeMutablePointer<RecordSlab>? {
        if producerHasSlab { return slabs + producerNext % slotCount }
        guard producerNext &- released.load(ordering: .acquiring) < slotCount else { return nil }
        producerHasSlab = true
        let slab = slabs + producerNext % slotCount
        slab.pointee.removeAll()
        return slab
    }

    /// Whether the producer's open slab holds records.
    var hasOpenRecords: Bool { producerHasSlab && slabs[producerNext % slotCount].count > 0 }

    /// Whether the consumer has released every published slab (it waits for more).
    var consumerIsWaiting: Bool { released.load(ordering: .acquiring) == producerNext }

    /// Hands the open slab to the consumer, if it holds records.
    func publish() {
        guard hasOpenRecords else { return }
        producerHasSlab = false
        producerNext &+= 1
        published.store(producerNext, ordering: .releasing)
        doorbell.ring()
    }

    /// Publishes the open slab and tells the consumer nothing more comes.
    func finish() {
        publish()
        finished.store(true, ordering: .releasing)
        doorbell.ring()
    }

    // MARK: Consumer (the writer thread)

    /// The next published slab, or nil when there is none now; `isFinished` tells whether
    /// none will come.
    func nextPublished() -> (slab: UnsafePointer<RecordSlab>?, isFinished: Bool) {
        let done = finished.load(ordering: .acquiring)
        let next = released.load(ordering: .relaxed)
        guard next < published.load(ordering: .acquiring) else { return (nil, done) }
        return (UnsafePointer(slabs + next % slotCount), false)
    }

    /// Whether a published slab waits for the consumer, or the producer finished.
    var consumerHasWork: Bool {
        finished.load(ordering: .acquiring) || released.load(ordering: .relaxed) < published.load(ordering: .acquiring)
    }

    /// Gives the slab `nextPublished()` returned back to the producer.
    func release() {
        released.add(1, ordering: .releasing)
    }
}
