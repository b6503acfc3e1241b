import PMDCore
import Synchronization

/// The PF's internal switch for several VFs of one PF: a frame goes to the VF whose MAC (as the
/// PF knows it) is its destination; broadcast and multicast go to every other VF and to the
/// uplink; unknown unicast goes to the uplink, or is dropped and counted when there is none.
/// A VF never receives its own frames back. VFs hold their ports, not the switch: keep the
/// switch alive as long as frames should flow (a port without its switch drops and counts).
public final class L2Switch: @unchecked Sendable {
    // @unchecked: ports and the uplink scratch batch are touched only under `lock`; the
    // counters are atomics.

    private struct Port {
        /// Weak: a VF holds its switch port, not the other way round.
        weak var vf: SimulatedVF?
        let input: FrameQueue
        /// The VF's MAC as the PF knows it.
        var macBits: UInt64? { vf?.currentMACBits }
    }

    /// Where frames for no VF go (the physical port); nil: dropped.
    public let uplink: FrameSink?
    private let queueCapacity: Int
    private let state = Locked<[Port]>([])
    private let uplinkBatch = FrameBatch(capacity: FrameBatch.defaultCapacity, slotSize: 9728)
    private let unknown = Atomic<UInt64>(0)

    /// A switch with no ports; each port queues `queueCapacity` frames.
    public init(uplink: FrameSink? = nil, queueCapacity: Int = 1024) {
        self.uplink = uplink
        self.queueCapacity = queueCapacity
    }

    /// Plugs `vf` in: its transmit side feeds the switch, its receive side is fed by it.
    public func attach(_ vf: SimulatedVF) {
        let input = FrameQueue(capacity: queueCapacity)
        let index = state.withLock { ports in
            ports.append(Port(vf: vf, input: input))
            return ports.count - 1
        }
        vf.connect(rx: input, tx: SwitchPort(switch: self, index: index))
    }

    /// Unicast frames for no VF without an uplink.
    public var unknownDestinationDrops: UInt64 { unknown.load(ordering: .relaxed) }

    /// Every drop: unknown destinations and full port queues.
    public var drops: UInt64 {
        unknownDestinationDrops + state.withLock { $0.reduce(0) { $0 + $1.input.drops } } + (uplink?.drops ?? 0)
    }

    /// Frames from port `from`.
    fileprivate func forward(_ batch: FrameBatch, from: Int, now: UInt64) -> Int {
        state.withLock { ports in
            uplinkBatch.removeAll()
            var accepted = 0
            for i in 0..<batch.count {
                let frame = batch[i]
                guard frame.length >= 6 else { continue }
                let first = frame.data.load(as: UInt8.self)
                if first & 1 != 0 {
                    for (p, port) in ports.enumerated() where p != from { port.input.enqueue(frame) }
                    if uplink != nil { uplinkBatch.appendCopy(frame.data, length: frame.length, timestamp: frame.timestamp) }
                    accepted += 1
                    continue
                }
                let destination = UInt64(frame.data.loadUnaligned(as: UInt32.self))
                    | UInt64(frame.data.loadUnaligned(fromByteOffset: 4, as: UInt16.self)) << 32
                if let p = ports.firstIndex(where: { $0.macBits == destination }), p != from {
                    if ports[p].input.enqueue(frame) { accepted += 1 }
                } else if uplink != nil {
                    uplinkBatch.appendCopy(frame.data, length: frame.length, timestamp: frame.timestamp)
                    accepted += 1
                } else {
                    unknown.add(1, ordering: .relaxed)
                }
            }
            if uplinkBatch.count > 0, let uplink { uplink.push(uplinkBatch, now: now) }
            return accepted
        }
    }
}

/// The transmit side of one switch port.
private final class SwitchPort: FrameSink, @unchecked Sendable {
    // @unchecked: set once at creation.
    /// Weak: the switch lives as long as its owner keeps it; without it frames are dropped.
    weak var owner: L2Switch?
    let index: Int
    private let lost = Locked<UInt64>(0)
    init(switch owner: L2Switch, index: Int) {
        self.owner = owner
        self.index = index
    }
    var drops: UInt64 { lost.withLock { $0 } }
    func push(_ batch: FrameBatch, now: UInt64) -> Int {
        guard let owner else {
            lost.withLock { $0 += UInt64(batch.count) }
            return 0
        }
        return owner.forward(batch, from: index, now: now)
    }
}
