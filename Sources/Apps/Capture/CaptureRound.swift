import PMDCore
import PcapIO

/// One round of a capture's polling: a burst from every RX queue of every port, each into its
/// own batch, then the frames of all of them in timestamp order (a merge of the bursts, each
/// already in order). The batches are allocated once; a round holds its buffers only until
/// `clear()`.
struct CaptureRound: ~Copyable {
    /// The port of each source (a source is one RX queue of one port).
    let sourcePorts: [Int]
    /// The queue of each source.
    let sourceQueues: [Int]
    /// Sources in the round.
    let sourceCount: Int
    private let batches: UnsafeMutablePointer<PacketBatch>
    private let cursors: UnsafeMutablePointer<Int>

    /// The sources of `ports`: every queue of each, in order.
    init(ports: [any Port]) {
        var portsOfSources: [Int] = [], queues: [Int] = []
        for (index, port) in ports.enumerated() {
            for queue in 0..<port.queueCount {
                portsOfSources.append(index)
                queues.append(queue)
            }
        }
        sourcePorts = portsOfSources
        sourceQueues = queues
        sourceCount = queues.count
        batches = .allocate(capacity: queues.count)
        cursors = .allocate(capacity: queues.count)
        for source in 0..<queues.count {
            (batches + source).initialize(to: PacketBatch())
            cursors[source] = 0
        }
    }

    deinit {
        batches.deinitialize(count: sourceCount)
        batches.deallocate()
        cursors.deallocate()
    }


    /// Receives a burst from `source` of `port`; returns how many frames came.
    @inline(__always)
    func receive(_ source: Int, from port: any Port) -> Int {
        cursors[source] = 0
        return port.receive(queue: sourceQueues[source], into: &batches[source])
    }

    /// The next frame of the round in timestamp order (as `stamper` stamps them): its source
    /// and the view of it; nil once every frame was taken. A source's frames keep their order.
    @inline(__always)
    func next(stamper: WallClockStamper) -> (source: Int, packet: PacketView, wallNanoseconds: UInt64)? {
        if sourceCount == 1 {
            // One queue of one port: nothing to merge.
            guard let packet = front(of: 0) else { return nil }
            cursors[0] &+= 1
            return (0, packet, stamper.wallNanoseconds(of: packet.metadata))
        }
        var best = -1
        var bestTime = UInt64.max
        var bestPacket: PacketView?
        var source = 0
        while source < sourceCount {
            if let packet = front(of: source) {
                let time = stamper.wallNanoseconds(of: packet.metadata)
                if best < 0 || time < bestTime {
                    best = source
                    bestTime = time
                    bestPacket = packet
                }
            }
            source &+= 1
        }
        guard let packet = bestPacket else { return nil }
        cursors[best] &+= 1
        return (best, packet, bestTime)
    }

    /// The first frame of `source` not taken yet, if any. Its buffer index is read where it
    /// lies: a batch's subscript would copy the whole batch (its inline slots) for each frame.
    @inline(__always)
    private func front(of source: Int) -> PacketView? {
        let cursor = cursors[source]
        guard cursor < batches[source].count else { return nil }
        return PacketView(pool: batches[source].pool,
                          index: batches[source].withIndexPointer { indices, _ in indices[cursor] })
    }

    /// The VLAN-stripped receive status of `source`'s pool (see `PacketMetadata.tagStripped`).
    func strippedTagStatus(of source: Int) -> UInt32 { batches[source].pool.strippedTagStatus }

    /// Frames of the round not taken yet, per port, added to `counts`.
    func countUntaken(into counts: UnsafeMutablePointer<UInt64>) {
        for source in 0..<sourceCount {
            counts[sourcePorts[source]] &+= UInt64(batches[source].count &- cursors[source])
        }
    }

    /// Gives every buffer of the round back to its pool.
    func clear() {
        for source in 0..<sourceCount {
            batches[source].removeAll()
            cursors[source] = 0
        }
    }
}
