import PMDCore
import PcapIO

/// The counts of one interface of a mirror (a port's received or sent frames).
public struct MirrorInterfaceTotals: Sendable, Equatable, Codable {
    /// The interface's name in the file: the port and `rx` or `tx`.
    public var name: String
    /// Frames the mirror saw (`isb_ifrecv`).
    public var seen: UInt64 = 0
    /// Frames the filter did not keep.
    public var filteredOut: UInt64 = 0
    /// Frames the filter kept but the mirror's ring had no room for (`isb_osdrop`): the
    /// writer fell behind; the forwarder never waits for it.
    public var dropped: UInt64 = 0
    /// Frames handed to the writer: seen, not filtered out, not dropped.
    public var handed: UInt64 { seen &- filteredOut &- dropped }
}

/// What a mirror did over a run.
public struct MirrorTotals: Sendable, Equatable, Codable {
    /// The file.
    public var file: String
    /// One per interface of the file, in interface-ID order.
    public var interfaces: [MirrorInterfaceTotals]
    /// Records whole in the file.
    public var written: UInt64
    /// Records handed to the writer that are not in the file: a write failed.
    public var notWritten: UInt64
    /// Why the file could not be written; nil when it was.
    public var failure: String?
}

/// A live mirror of one port's frames into a pcapng file: the forwarding lane copies each
/// frame the filter keeps into a slab of the mirror's ring (`CaptureRing`) and moves on; the
/// mirror's writer thread (`CaptureWriterThread`) writes the slabs. When the ring is full
/// the frame is counted dropped, and the lane never waits.
///
/// One producer: the lane that owns the port's (one) queue; the forwarder makes sure of it.
public final class ForwardMirror: @unchecked Sendable {
    /// What the user asked for.
    public let spec: MirrorSpec
    /// The mirrored port's index.
    public let portIndex: Int
    /// Interface ID of the received frames in the file; nil when they are not mirrored.
    let receivedInterface: UInt32?
    /// Interface ID of the sent frames in the file; nil when they are not mirrored.
    let sentInterface: UInt32?
    private let filter: PacketFilter?
    private let ring: CaptureRing
    private let writer: RotatingPcapWriter
    private let writerThread: CaptureWriterThread
    /// Per interface: seen, filtered out, dropped (written by the lane only).
    private let counts: UnsafeMutablePointer<UInt64>
    private var slab: UnsafeMutablePointer<RecordSlab>?
    private let interfaceNames: [String]

    /// Slabs in a mirror's ring and bytes of each: 4 MiB between the lane and the disk.
    static let ringSlabs = 32
    static let slabBytes = 128 * 1024

    /// Opens the file of `spec` for the port `port` at `portIndex`, written by `application`.
    public init(spec: MirrorSpec, portIndex: Int, port: OpenedPort, application: String) throws(PcapError) {
        self.spec = spec
        self.portIndex = portIndex
        var interfaces: [PcapngInterface] = []
        if spec.direction.copiesReceived {
            interfaces.append(PcapngInterface(name: port.spec + " rx", description: port.kindDescription))
        }
        if spec.direction.copiesSent {
            interfaces.append(PcapngInterface(name: port.spec + " tx", description: port.kindDescription, outbound: true))
        }
        receivedInterface = spec.direction.copiesReceived ? 0 : nil
        sentInterface = spec.direction.copiesSent ? UInt32(interfaces.count - 1) : nil
        interfaceNames = interfaces.map(\.name)
        filter = spec.filter.isEmpty ? nil : try PacketFilter(expression: spec.filter)
        writer = try RotatingPcapWriter(
            pattern: spec.path, snapLength: spec.snapLength,
            pcapng: PcapngDescription(application: application, interfaces: interfaces, filter: spec.filter),
            wallNanoseconds: MonotonicClock.wallNanoseconds())
        ring = CaptureRing(slotCount: Self.ringSlabs,
                           slotBytes: max(Self.slabBytes, RecordSlab.leastCapacity(snapLength: spec.snapLength)))
        writerThread = CaptureWriterThread(ring: ring, writer: writer, flushIntervalSeconds: 1, streams: writer.streams)
        counts = .allocate(capacity: 3 * interfaces.count)
        counts.initialize(repeating: 0, count: 3 * interfaces.count)
    }

    deinit {
        counts.deallocate()
    }

    /// Starts the writer thread.
    func start() {
        slab = ring.openSlab()
        writerThread.start()
    }

    /// Copies the frames of `batch` the filter keeps into the ring, as interface `interface`;
    /// `restoresTag` tells, per frame, whether its VLAN tag is put back after its addresses.
    @inline(__always)
    private func copy(_ batch: borrowing PacketBatch, interface: UInt32, restoresTag: (PacketMetadata) -> Bool) {
        let seen = counts + 3 * Int(interface)
        let wallNanoseconds = MonotonicClock.wallNanoseconds()
        seen.pointee &+= UInt64(batch.count)
        for i in 0..<batch.count {
            let packet = batch[i]
            let metadata = packet.metadata.pointee
            let tag: RestoredVLANTag? = _slowPath(restoresTag(metadata)) ? RestoredVLANTag(tci: metadata.vlanTCI) : nil
            if let filter {
                let matched = if let tag {
                    filter.matches(packet.data, length: packet.length, restoring: tag)
                } else {
                    filter.matches(packet.data, length: packet.length)
                }
                if !matched {
                    seen[1] &+= 1
                    continue
                }
            }
            var appended = false
            while !appended {
                if let open = slab {
                    open.pointee.wallNanoseconds = wallNanoseconds
                    appended = open.pointee.append(packet.data, length: packet.length, restoring: tag, snapLength: spec.snapLength,
                                                   wallNanoseconds: wallNanoseconds, interface: interface,
                                                   filteredBefore: 0, droppedBefore: 0)
                    if appended { break }
                    ring.publish()
                }
                slab = ring.openSlab()
                if slab == nil { break }
            }
            if !appended { seen[2] &+= 1 }
        }
        // The writer caught up: it gets this burst's slab now (the next burst opens another).
        if ring.consumerIsWaiting && ring.hasOpenRecords {
            ring.publish()
            slab = nil
        }
    }

    /// Copies the frames the port received (before any rewrite), a stripped VLAN tag put back.
    @inline(never)
    func copyReceived(_ batch: borrowing PacketBatch) {
        guard let receivedInterface else { return }
        let stripped = batch.pool.strippedTagStatus
        copy(batch, interface: receivedInterface) { $0.tagStripped(strippedTagStatus: stripped) }
    }

    /// Copies the frames handed to the port to send (after the rewrite), with the VLAN tag the
    /// port is asked to insert.
    @inline(never)
    func copySent(_ batch: borrowing PacketBatch) {
        guard let sentInterface else { return }
        copy(batch, interface: sentInterface) { $0.flags.contains(.insertVLAN) }
    }

    /// After the lanes finished: writes what the ring holds, closes the file with one
    /// Interface Statistics Block per interface holding the mirror's counts, and returns them.
    func finish() -> MirrorTotals {
        writerThread.finish()
        let interfaces = interfaceNames.indices.map { index in
            MirrorInterfaceTotals(name: interfaceNames[index], seen: counts[3 * index], filteredOut: counts[3 * index + 1],
                                  dropped: counts[3 * index + 2])
        }
        for (index, totals) in interfaces.enumerated() {
            writer.statistics[index].received = totals.seen
            writer.statistics[index].acceptedByFilter = totals.seen &- totals.filteredOut
            writer.statistics[index].droppedByWriter = totals.dropped
        }
        var failure = writer.failure
        do throws(PcapError) { try writer.close() } catch { failure = failure ?? error }
        let written = UInt64(writer.recordsWritten)
        let handed = interfaces.reduce(0) { $0 &+ $1.handed }
        return MirrorTotals(file: spec.path, interfaces: interfaces, written: written, notWritten: handed &- written,
                            failure: failure.map { "\($0)" })
    }

    /// Whether the file could not be written (the mirror goes on counting, its frames lost).
    var hasFailed: Bool { writerThread.hasFailed }
}
