import Apps
import Foundation
import PMDCore

/// A port over memory for testing the apps' engines alone: it delivers the frames it was
/// given, at most `burst` per call, and records every frame sent to it. `txLimit` caps how
/// many packets one transmit call accepts, to create back-pressure.
final class MemoryPort: PMDCore.Port, @unchecked Sendable {
    let name: String
    let queueCount: Int
    let macAddress: MACAddress
    var link = LinkStatus(isUp: true, speedMbps: 10_000)
    var stats = PortStats()
    let pool: Mempool
    private let lock = NSLock()
    private var pending: [[UInt8]]
    private(set) var sent: [[UInt8]] = []
    let burst: Int
    let txLimit: Int
    var updates = 0
    /// How long reading the statistics takes (a slow link read, a slow bus).
    var statsReadMicroseconds = 0
    /// Receives polled while a statistics read was under way.
    private(set) var receivesDuringStatsRead = 0
    private var readingStats = false
    /// Set: the next statistics read beside the bursts reports maintenance owed.
    var owesMaintenance = false
    /// Set: the port stays running after its frames (a live source), not exhausted.
    var live = false
    /// When set, frames sent to this port are delivered to `peer` (a cable).
    weak var peer: MemoryPort?
    /// Called at the start of every receive with the number of frames delivered so far, in
    /// the receiving thread: a test holds a receive there. Set before the port is used.
    var willReceive: ((Int) -> Void)?
    /// Called whenever `condition` is read (a forwarder's controller reads it once per look).
    /// Set before the port is used.
    var conditionRead: (() -> Void)?
    private var delivered = 0

    init(name: String, frames: [[UInt8]], mac: MACAddress, queues: Int = 1, burst: Int = 32, txLimit: Int = .max) throws {
        self.name = name
        self.queueCount = queues
        self.macAddress = mac
        self.pending = frames
        self.burst = burst
        self.txLimit = txLimit
        pool = try Mempool(name: name, capacity: 512, dataRoom: 10_240, pages: .smallPages)
    }

    var isExhausted: Bool { lock.withLock { pending.isEmpty } }
    var condition: PortCondition {
        conditionRead?()
        return isExhausted && !live ? .inputExhausted : .running
    }
    var buffersInUse: Int { pool.inUse }
    var receivePools: [Mempool] { [pool] }
    private(set) var mappedForTransmit: [String] = []
    func mapForTransmit(_ pool: Mempool) throws { lock.withLock { mappedForTransmit.append(pool.name) } }
    func start() throws {}
    func stop() {}
    func close() {}
    func updateStats() {
        lock.withLock { readingStats = true }
        if statsReadMicroseconds > 0 { usleep(UInt32(statsReadMicroseconds)) }
        lock.withLock {
            readingStats = false
            updates += 1
        }
    }
    func updateStatsBesideBursts() -> Bool {
        if lock.withLock({ owesMaintenance }) {
            lock.withLock { owesMaintenance = false }
            return true
        }
        updateStats()
        return false
    }
    var sentFrames: [[UInt8]] { lock.withLock { sent } }

    /// Adds frames to what the port will deliver.
    func deliver(_ frames: [[UInt8]]) { lock.withLock { pending += frames } }

    func receive(queue: Int, into batch: inout PacketBatch) -> Int {
        willReceive?(lock.withLock { delivered })
        guard batch.adopt(pool: pool.ref) else { return 0 }
        batch.compact()
        var n = 0
        lock.lock()
        defer { lock.unlock() }
        if readingStats { receivesDuringStatsRead += 1 }
        while n < burst, batch.freeCapacity > 0, !pending.isEmpty {
            // Queue q delivers frames whose index is q modulo the queue count.
            guard let index = pool.ref.take() else { break }
            let frame = pending.removeFirst()
            precondition(frame.count <= pool.dataRoom, "a frame larger than the test port's buffers")
            frame.withUnsafeBytes { pool.ref.data(index).copyMemory(from: $0.baseAddress!, byteCount: frame.count) }
            pool.ref.metadata(index).pointee = PacketMetadata()
            pool.ref.metadata(index).pointee.length = UInt32(frame.count)
            batch.appendOwnedIndex(index)
            n += 1
        }
        stats.rxPackets += UInt64(n)
        delivered += n
        return n
    }

    func transmit(queue: Int, _ batch: inout PacketBatch) -> Int {
        let n = min(batch.count, txLimit)
        lock.lock()
        var frames: [[UInt8]] = []
        for i in 0..<n { frames.append(Array(batch[i].bytes)) }
        if peer == nil { sent += frames }
        stats.txPackets += UInt64(n)
        lock.unlock()
        if let peer { peer.deliver(frames) }
        for i in 0..<n { batch.pool.give(batch.index(at: i)) }
        batch.removeFirstOwned(n)
        return n
    }
}

/// `count` distinct frames of `length` bytes from `src` to `dst`.
func makeFrames(_ count: Int, length: Int = 64, src: MACAddress, dst: MACAddress, seed: UInt8 = 0) -> [[UInt8]] {
    (0..<count).map { n in
        var f = dst.array + src.array + [0x08, 0x00]
        f += (0..<(length - 14)).map { UInt8(truncatingIfNeeded: $0 &+ n &* 7 &+ Int(seed)) }
        return f
    }
}

/// An opened port around a memory port.
func opened(_ port: MemoryPort) -> OpenedPort { OpenedPort(port: port, name: port.name) }
