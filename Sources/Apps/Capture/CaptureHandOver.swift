import Logging
import PMDCore
import PcapIO

/// The receive thread's hand-over of a round's frames to the writer thread: each frame, in
/// timestamp order, filtered (BPF), cut to the snap length (a stripped VLAN tag back in place)
/// and copied into the ring's open slab, then counted handed over, filtered out, or dropped by
/// the writer (the ring was full). A function of its own, apart from the engine's loop, so that
/// the per-frame path keeps its few values in registers rather than on the stack.
struct CaptureHandOver {
    /// The ring the slabs go through.
    let ring: CaptureRing
    /// The thread writing the ring's slabs (`hasFailed` ends a wait for room).
    let writerThread: CaptureWriterThread
    /// The receive thread's counters.
    let tally: CaptureTally
    /// The filter; nil keeps every frame.
    let filter: PacketFilter?
    /// Bytes kept of each frame.
    let snapLength: Int
    /// Whether a full ring is waited on (ports that are files) rather than dropped into.
    let waitsForWriter: Bool
    /// `-c`: frames to hand over at most.
    let limit: UInt64
    /// Frames handed over so far.
    private(set) var handed: UInt64 = 0
    /// The ring's slab open for the next frames; nil while the ring is full.
    private(set) var slab: UnsafeMutablePointer<RecordSlab>?
    /// Whether each frame's receive write-back is logged (`--log-level trace`), to compare one
    /// device model with another frame by frame.
    let tracesWriteBacks = appsLog.logLevel <= .trace

    /// A hand-over into `ring`, its first slab opened.
    init(ring: CaptureRing, writerThread: CaptureWriterThread, tally: CaptureTally, filter: PacketFilter?,
         snapLength: Int, waitsForWriter: Bool, limit: UInt64) {
        self.ring = ring
        self.writerThread = writerThread
        self.tally = tally
        self.filter = filter
        self.snapLength = snapLength
        self.waitsForWriter = waitsForWriter
        self.limit = limit
        slab = ring.openSlab()
    }

    /// Whether `-c` frames were handed over.
    var reachedLimit: Bool { handed == limit }

    /// Hands over the frames of `round`, stamped by `stamper`, until `-c` is reached; a wait
    /// for room in the ring polls `shouldStop`.
    @inline(never)
    mutating func take(_ round: borrowing CaptureRound, stamper: WallClockStamper, shouldStop: () -> Bool) {
        if let open = slab, _slowPath(open.pointee.holdsPcapRecords) { useSlab(holdingPcapRecords: false) }
        while handed < limit, let (source, packet, time) = round.next(stamper: stamper) {
            let port = round.sourcePorts[source]
            let metadata = packet.metadata
            if _slowPath(tracesWriteBacks) { traceWriteBack(metadata.pointee, port: port) }
            let tag: RestoredVLANTag? = _slowPath(metadata.pointee.tagStripped(strippedTagStatus: round.strippedTagStatus(of: source)))
                ? RestoredVLANTag(tci: metadata.pointee.vlanTCI) : nil
            if let filter {
                let matched = if let tag {
                    filter.matches(packet.data, length: packet.length, restoring: tag)
                } else {
                    filter.matches(packet.data, length: packet.length)
                }
                if !matched {
                    tally.filteredOut[port] &+= 1
                    tally.filteredSinceRecord[port] &+= 1
                    continue
                }
            }
            if append(packet, tag: tag, time: time, port: port, burstTime: stamper.wallNow, shouldStop: shouldStop) {
                tally.filteredSinceRecord[port] = 0
                tally.droppedSinceRecord[port] = 0
                tally.handed[port] &+= 1
                handed &+= 1
            } else {
                tally.droppedByWriter[port] &+= 1
                tally.droppedSinceRecord[port] &+= 1
            }
        }
    }

    /// One line per received frame: the write-back fields as the device wrote them.
    @inline(never)
    private func traceWriteBack(_ metadata: PacketMetadata, port: Int) {
        func hex<T: FixedWidthInteger>(_ value: T) -> String {
            let digits = String(value, radix: 16)
            return "0x" + String(repeating: "0", count: max(0, MemoryLayout<T>.size * 2 - digits.count)) + digits
        }
        appsLog.trace("write-back port \(port): length \(metadata.receiveLength) status \(hex(metadata.receiveStatus)) packet-info \(hex(metadata.packetInfo)) rss-hash \(hex(metadata.rssHash)) vlan \(hex(metadata.vlanTCI))")
    }

    /// Hands the open slab to the writer when it waits for work, and opens the next.
    mutating func publishIfWriterWaits() {
        if ring.hasOpenRecords && ring.consumerIsWaiting {
            ring.publish()
            slab = ring.openSlab()
        }
    }

    /// Appends the record of `packet` to the open slab, moving on to the next slab when it is
    /// full; false when no slab has room (the ring is full and not waited on, or the wait ended).
    @inline(__always)
    private mutating func append(_ packet: PacketView, tag: RestoredVLANTag?, time: UInt64, port: Int, burstTime: UInt64,
                                 shouldStop: () -> Bool) -> Bool {
        while let open = openSlab(shouldStop: shouldStop) {
            open.pointee.wallNanoseconds = burstTime
            if open.pointee.append(packet.data, length: packet.length, restoring: tag, snapLength: snapLength,
                                   wallNanoseconds: time, interface: UInt32(truncatingIfNeeded: port),
                                   filteredBefore: tally.filteredSinceRecord[port],
                                   droppedBefore: tally.droppedSinceRecord[port]) {
                return true
            }
            ring.publish()
            slab = nil
        }
        return false
    }

    /// Makes the open slab one of pcap file records (`pcap`) or of records of its own layout:
    /// an empty slab changes kind, one with records of the other kind is handed over first.
    private mutating func useSlab(holdingPcapRecords pcap: Bool) {
        guard let open = slab, open.pointee.holdsPcapRecords != pcap else { return }
        if open.pointee.count > 0 {
            ring.publish()
            slab = ring.openSlab()
        }
        slab?.pointee.holdsPcapRecords = pcap
    }

    /// The open slab, else the next free one of the ring, waiting for the writer to free one
    /// when the ring is waited on; nil when none has room (the ring is full and not waited on,
    /// or the wait ended).
    @inline(__always)
    private mutating func openSlab(shouldStop: () -> Bool) -> UnsafeMutablePointer<RecordSlab>? {
        while true {
            if let slab { return slab }
            slab = ring.openSlab()
            if slab != nil { continue }
            guard waitsForWriter && !writerThread.hasFailed && !shouldStop() else { return nil }
            MonotonicClock.sleep(microseconds: 20)
        }
    }
}

extension CaptureHandOver {
    /// Records of a `pcap:` port's file read in one round at most: the engine's checks (a
    /// stop, the duration, the reports) come between rounds.
    static let recordsPerRound = 256

    /// Hands over up to `recordsPerRound` frames of the RX file of `port` (the capture's only
    /// source), read straight from the reader's buffer into the ring's slabs
    /// (`PcapPort.receive(into:_:filter:)`): the records, filter, snap length and counters
    /// `take` makes of the same frames received into pool buffers, with no buffer, round or
    /// metadata. A full slab is handed over and the next one waited for; once a wait ends (a
    /// stop, a failed writer) nothing more is read. Returns the frames received, stamping the
    /// slabs with `burstTime` for the writer's `-G` check. With `pcapRecords` the slabs hold
    /// pcap file records of that precision, which the writer writes as they lie.
    mutating func takeRecords(of port: PcapPort, burstTime: UInt64, pcapRecords: TimestampPrecision?,
                              shouldStop: () -> Bool) -> Int {
        var reading = RecordSlabReading(recordLimit: Self.recordsPerRound, appendLimit: Int(clamping: limit &- handed),
                                        snapLength: snapLength, largestFrame: 0, pcapRecords: pcapRecords,
                                        filteredSinceRecord: tally.filteredSinceRecord[0],
                                        droppedSinceRecord: tally.droppedSinceRecord[0])
        while true {
            useSlab(holdingPcapRecords: pcapRecords != nil)
            guard let open = openSlab(shouldStop: shouldStop) else { break }
            if open.pointee.count == 0 { open.pointee.holdsPcapRecords = pcapRecords != nil }
            open.pointee.wallNanoseconds = burstTime
            port.receive(into: &open.pointee, &reading, filter: filter)
            guard reading.slabIsFull else { break }
            ring.publish()
            slab = nil
        }
        tally.received[0] &+= UInt64(reading.read)
        tally.filteredOut[0] &+= UInt64(reading.filteredOut)
        tally.handed[0] &+= UInt64(reading.appended)
        tally.filteredSinceRecord[0] = reading.filteredSinceRecord
        tally.droppedSinceRecord[0] = reading.droppedSinceRecord
        handed &+= UInt64(reading.appended)
        return reading.read
    }
}
