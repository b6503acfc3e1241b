import Atomics
import PMDCore

/// Sends bench frames on one queue of one port: prebuilt templates per flow and size, a
/// sequence number per flow and the send time stamped in each, paced by the TSC.
///
/// Owned by one thread. Its buffers come from a pool of its own and return to it when the
/// port has sent them.
final class TrafficGenerator: @unchecked Sendable {
    let port: any Port
    let queue: Int
    let pool: Mempool
    /// Template bytes: one `stride`-byte slot per (flow slot, size slot).
    private let templates: UnsafeMutableRawPointer
    private let templateLengths: [Int]
    /// Bytes per template slot: the largest frame, rounded up to a cache line.
    private let stride: Int
    /// Flows this queue sends (flow ids `queue`, `queue + queues`, …).
    private let flows: [Int]
    /// Template slot of each size in the size pattern.
    private let sizeSlots: [Int]
    private let distinctSizes: [Int]
    // The mutable state belongs to the one sending thread: no dynamic exclusivity check
    // per access (they cost as much as the rest of a frame's generation).
    /// Next sequence number per flow slot.
    @exclusivity(unchecked) private var sequence: UnsafeMutablePointer<UInt32>
    @exclusivity(unchecked) private var flowCursor = 0
    @exclusivity(unchecked) private var sizeCursor = 0
    private let ticksPerPacket: Double
    @exclusivity(unchecked) private var nextSend: Double = 0
    private let burst: Int
    @exclusivity(unchecked) private var pending = PacketBatch()
    @exclusivity(unchecked) private var generatedPackets: UInt64 = 0
    @exclusivity(unchecked) private var generatedBytes: UInt64 = 0
    /// Packets and bytes (with FCS) the port accepted; read by the reporting thread.
    let sentPackets = UnsafeAtomic<UInt64>.create(0)
    let sentBytes = UnsafeAtomic<UInt64>.create(0)

    init(port: any Port, queue: Int, queues: Int, flowCount: Int, sizes: [Int], packetsPerSecond: Double?,
         burst: Int, source: MACAddress, destination: MACAddress) throws {
        self.port = port
        self.queue = queue
        self.burst = burst
        distinctSizes = Array(Set(sizes)).sorted()
        sizeSlots = sizes.map { size in Array(Set(sizes)).sorted().firstIndex(of: size)! }
        flows = Swift.stride(from: queue, to: max(flowCount, queues), by: queues).map { $0 }
        sequence = .allocate(capacity: flows.count)
        sequence.initialize(repeating: 0, count: flows.count)
        // Every frame fits its template slot and a pool buffer, by construction: the two are
        // sized from the largest frame, so the copies in `fill` never write past either.
        let largest = (distinctSizes.last ?? BenchFrame.minimumSize) - BenchFrame.fcs
        stride = (largest + 63) & ~63
        pool = try Mempool(name: "bench-tx-\(queue)", capacity: 4096,
                           dataRoom: max(Mempool.defaultDataRoom, (largest + 1023) & ~1023))
        precondition(largest <= stride && largest <= pool.dataRoom, "bench frame larger than its buffer")
        try port.mapForTransmit(pool)
        templates = UnsafeMutableRawPointer.allocate(byteCount: stride * flows.count * distinctSizes.count, alignment: 64)
        var lengths: [Int] = []
        for (f, flow) in flows.enumerated() {
            for (s, size) in distinctSizes.enumerated() {
                let slot = templates + (f * distinctSizes.count + s) * stride
                lengths.append(BenchFrame.writeTemplate(into: slot, size: size, flow: flow,
                                                        source: source, destination: destination))
            }
        }
        templateLengths = lengths
        ticksPerPacket = packetsPerSecond.map { TSC.frequency / $0 } ?? 0
        _ = pending.adopt(pool: pool.ref)
    }

    deinit {
        pending.removeAll()
        templates.deallocate()
        sequence.deallocate()
        sentPackets.destroy()
        sentBytes.destroy()
    }

    /// Generates and sends up to one burst; returns packets sent.
    func poll() -> Int {
        if pending.isEmpty {
            var allowed = burst
            let now = Double(TSC.now())
            if ticksPerPacket > 0 {
                if nextSend == 0 { nextSend = now }
                if now < nextSend { return 0 }
                allowed = min(burst, Int((now - nextSend) / ticksPerPacket) + 1)
                nextSend += Double(allowed) * ticksPerPacket
                // Do not bank credit while the port pushes back for a long time.
                if now - nextSend > ticksPerPacket * Double(burst) * 4 { nextSend = now }
            }
            fill(allowed)
        }
        let sent = port.transmit(queue: queue, &pending)
        if sent > 0 {
            var heldBytes: UInt64 = 0
            for i in 0..<pending.count { heldBytes &+= UInt64(pending[i].length + BenchFrame.fcs) }
            sentPackets.store(generatedPackets &- UInt64(pending.count), ordering: .relaxed)
            sentBytes.store(generatedBytes &- heldBytes, ordering: .relaxed)
        }
        return sent
    }

    private func fill(_ count: Int) {
        pending.compact()
        let tsc = TSC.now()
        let pool = self.pool.ref
        let sizesPerFlow = distinctSizes.count
        var flowCursor = self.flowCursor, sizeCursor = self.sizeCursor
        var packets: UInt64 = 0, bytes: UInt64 = 0
        let room = min(count, pending.freeCapacity)
        templateLengths.withUnsafeBufferPointer { lengths in
            sizeSlots.withUnsafeBufferPointer { sizeSlots in
                while Int(packets) < room, let index = pool.take() {
                    let template = flowCursor * sizesPerFlow + sizeSlots[sizeCursor]
                    let length = lengths[template]
                    let data = pool.data(index)
                    data.copyMemory(from: templates + template * stride, byteCount: length)
                    BenchFrame.stamp(data, sequence: sequence[flowCursor], tsc: tsc)
                    sequence[flowCursor] &+= 1
                    var meta = PacketMetadata()
                    meta.length = UInt32(length)
                    pool.metadata(index).pointee = meta
                    pending.appendOwnedIndex(index)
                    packets &+= 1
                    bytes &+= UInt64(length + BenchFrame.fcs)
                    flowCursor = flowCursor + 1 == flows.count ? 0 : flowCursor + 1
                    sizeCursor = sizeCursor + 1 == sizeSlots.count ? 0 : sizeCursor + 1
                }
            }
        }
        self.flowCursor = flowCursor
        self.sizeCursor = sizeCursor
        generatedPackets &+= packets
        generatedBytes &+= bytes
    }

    /// Packets generated but not yet accepted by the port.
    var unsent: Int { pending.count }
}
