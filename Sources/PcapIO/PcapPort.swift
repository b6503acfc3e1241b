import Logging
import PMDCore
import Synchronization

/// A port over capture files, like DPDK's pcap driver: it receives the frames of an RX file
/// and writes what it transmits to a TX file, so every app runs with no device at all.
///
/// One queue. RX copies each frame into a buffer of the port's own pool with its capture time
/// (`.wallClockTimestamp`); the port is exhausted once the file was played `loop` times
/// (`loop == 0`: forever). TX writes each frame to the TX file (nanosecond timestamps), with
/// its 802.1Q tag inserted when it asks for `.insertVLAN` as a VF's TX offload inserts it,
/// and returns its buffer to its pool at once; `stop()` writes what the file's buffer holds.
/// The TX counters follow the file: `txPackets` reached it (or are on their way), `txErrors`
/// never will (a write failed: the port fails, the file ends with its last whole record). A
/// port without an RX file never receives; one without a TX file discards what it is given
/// and counts it in `txErrors`.
///
/// A malformed RX file ends the port's input: the frames before the bad record are received,
/// the error is logged and kept in `failure`, and the port is exhausted.
///
/// Concurrency: queue 0 is used by one thread at a time; the counters are written by that
/// thread and read by any (`SharedCounters`), copied into `stats` by `updateStats()`, hence
/// `@unchecked Sendable`.
public final class PcapPort: Port, @unchecked Sendable {
    /// Default number of RX buffers.
    public static let defaultPoolCapacity = 2048
    /// Bytes per RX buffer: the largest jumbo frame of the VFs (9728) fits.
    public static let defaultDataRoom = 10_240

    public let name: String
    public let queueCount = 1
    public let macAddress: MACAddress
    public var link: LinkStatus { LinkStatus(isUp: true, speedMbps: 10_000) }
    public private(set) var stats = PortStats()
    /// Failed once a file could not be read or written (a TX file's failure says how many
    /// frames reached it); input exhausted once the RX file was played `loop` times (or there
    /// is none).
    public var condition: PortCondition {
        if let failure, case .writeFailed = failure {
            return .failed("\(failure) (\(stats.txPackets) frames written to it, \(stats.txErrors) dropped)")
        }
        if let failure { return .failed(failure.description) }
        return rxExhausted.load(ordering: .acquiring) ? .inputExhausted : .running
    }
    /// Buffers of the RX pool not back in it.
    public var buffersInUse: Int { pool?.inUse ?? 0 }
    /// The RX pool, when there is an RX file.
    public var receivePools: [Mempool] { pool.map { [$0] } ?? [] }
    /// Files need no mapping: any packet can be written.
    public func mapForTransmit(_ pool: Mempool) throws {}

    /// The RX file, if any.
    public let rxPath: String?
    /// The TX file, if any.
    public let txPath: String?
    /// Times the RX file is played (0: forever).
    public let loop: Int
    /// The pool RX buffers come from (nil without an RX file).
    public let pool: Mempool?
    /// The first error met reading the RX file or writing the TX file.
    public var failure: PcapError? { firstFailure.withLock { $0 } }
    /// Written by the thread that met the error, read by any (the app's control thread).
    private let firstFailure = Locked<PcapError?>(nil)

    private let portNumber: UInt16
    private var reader: PcapReader?
    private var writer: PcapFileWriter?
    private var stamper = WallClockStamper()
    private var stamperAnchorTSC: UInt64 = 0
    private var passesDone = 0
    private var recordsThisPass = 0
    /// Set by the thread that receives, read by the app's control thread.
    private let rxExhausted: Atomic<Bool>
    private var started = false
    /// What the bursts counted, readable beside them (allocated once nothing before it can
    /// throw: a failed init frees it in `deinit`).
    private let counters: SharedCounters
    /// The slots of `counters`.
    private enum Counter {
        static let rxPackets = 0, rxBytes = 1, rxErrors = 2, rxNoBuffer = 3, txPackets = 4, txBytes = 5, txErrors = 6
        static let count = 7
    }
    /// Packets given to a port without a TX file.
    private var txDiscarded: UInt64 = 0
    private let logger = Logger(label: "vfpmd.pcap-port")

    /// Opens the RX file (checked now: missing, malformed header or not Ethernet is an error)
    /// and creates the TX file.
    public init(
        name: String, rxPath: String?, txPath: String?, loop: Int = 1, portNumber: UInt16 = 0,
        poolCapacity: Int = PcapPort.defaultPoolCapacity, dataRoom: Int = PcapPort.defaultDataRoom
    ) throws {
        precondition(rxPath != nil || txPath != nil, "a pcap port needs an RX or a TX file")
        precondition(loop >= 0, "loop count must not be negative")
        self.name = name
        self.rxPath = rxPath
        self.txPath = txPath
        self.loop = loop
        self.portNumber = portNumber
        macAddress = MACAddress(0x02, 0x70, 0x63, 0x61, 0x70, UInt8(truncatingIfNeeded: portNumber))
        if let rxPath {
            reader = try PcapReader(path: rxPath)
            pool = try Mempool(name: "\(name) rx", capacity: poolCapacity, dataRoom: dataRoom, pages: .preferHugepagesElseLazySmallPages)
        } else {
            pool = nil
        }
        rxExhausted = Atomic(rxPath == nil)
        counters = SharedCounters(count: Counter.count)
        if let txPath { writer = try PcapFileWriter(path: txPath) }
    }

    public func start() throws { started = true }

    /// Stops receiving and writes what the TX file's buffer holds, so the counters say what
    /// reached the file.
    public func stop() {
        started = false
        guard let writer else { return }
        do throws(PcapError) { try writer.flush() } catch { record(error) }
        count(writer)
    }

    public func close() {
        started = false
        reader?.close()
        reader = nil
        rxExhausted.store(true, ordering: .releasing)
        if let writer {
            do throws(PcapError) { try writer.close() } catch { record(error) }
            count(writer)
        }
        writer = nil
        updateStats()
    }

    public func receive(queue: Int, into batch: inout PacketBatch) -> Int {
        guard started, queue == 0, !rxExhausted.load(ordering: .relaxed), let reader, let pool else { return 0 }
        let n: Int
        let bytesBefore = reader.bytesRead
        do throws(PcapError) {
            n = try reader.read(into: &batch, from: pool.ref)
        } catch {
            readFailed(error)
            return 0
        }
        if n == 0 && !reader.isAtEnd { counters.add(1, to: Counter.rxNoBuffer) }
        countReceived(n, bytes: reader.bytesRead &- bytesBefore, from: reader)
        return n
    }

    /// Whether the RX file's records can be received straight into record slabs
    /// (`receive(into:_:filter:)`): a classic pcap file the reader's own cursor reads, in the
    /// file's current pass.
    public var receivesIntoRecordSlabs: Bool { reader?.readsRecordsInPlace ?? false }

    /// Receives frames of the RX file as `receive(queue:into:)` does, with the same counters,
    /// errors and passes, but copies each record from the reader's buffer straight into `slab`
    /// (see `PcapReader.read(into:_:filter:)`) instead of into a pool buffer; frames larger
    /// than the pool's buffers are refused as they are there (`reading.largestFrame` is set to
    /// their data room). The frames received are `reading.read` less what it held before.
    public func receive(into slab: inout RecordSlab, _ reading: inout RecordSlabReading, filter: PacketFilter?) {
        reading.slabIsFull = false
        guard started, !rxExhausted.load(ordering: .relaxed), let reader, let pool else { return }
        let (readBefore, bytesBefore) = (reading.read, reading.bytes)
        reading.largestFrame = pool.dataRoom
        do throws(PcapError) {
            try reader.read(into: &slab, &reading, filter: filter)
        } catch {
            readFailed(error)
            return
        }
        countReceived(reading.read &- readBefore, bytes: reading.bytes &- bytesBefore, from: reader)
    }

    /// Keeps the error of a read of the RX file, counts it and ends the input.
    private func readFailed(_ error: PcapError) {
        record(error)
        counters.add(1, to: Counter.rxErrors)
        rxExhausted.store(true, ordering: .releasing)
    }

    /// Counts `n` frames of `bytes` captured bytes received from `reader`; starts the next
    /// pass once it reached the end of the file.
    private func countReceived(_ n: Int, bytes: UInt64, from reader: PcapReader) {
        counters.add(bytes, to: Counter.rxBytes)
        counters.add(UInt64(n), to: Counter.rxPackets)
        recordsThisPass &+= n
        if reader.isAtEnd && !reader.hasPendingError { nextPass() }
    }

    public func transmit(queue: Int, _ batch: inout PacketBatch) -> Int {
        let n = batch.count
        guard let writer else {
            txDiscarded &+= UInt64(n)
            counters.store(txDiscarded, at: Counter.txErrors)
            batch.removeAll()
            return 0
        }
        stamper.refresh()
        if stamper.nanoseconds(from: stamperAnchorTSC, to: stamper.tscNow) > 1_000_000_000 {
            stamper.anchor()
            stamperAnchorTSC = stamper.tscNow
        }
        let failedBefore = writer.hasFailed
        _ = writer.write(batch, stamper: stamper)
        batch.removeAll()
        count(writer)
        return failedBefore ? 0 : n
    }

    public func updateStats() {
        stats.rxPackets = counters[Counter.rxPackets]
        stats.rxBytes = counters[Counter.rxBytes]
        stats.rxErrors = counters[Counter.rxErrors]
        stats.rxNoBuffer = counters[Counter.rxNoBuffer]
        stats.txPackets = counters[Counter.txPackets]
        stats.txBytes = counters[Counter.txBytes]
        stats.txErrors = counters[Counter.txErrors]
    }

    /// The counters are read beside the bursts; a file port owes no maintenance.
    public func updateStatsBesideBursts() -> Bool {
        updateStats()
        return false
    }

    deinit { counters.deallocate() }

    /// Takes the TX counters from the writer: packets and bytes in the file or on their way to
    /// it are sent; packets a failed write of the file lost are errors, the failure is kept.
    private func count(_ writer: PcapFileWriter) {
        counters.store(UInt64(writer.recordsWritten + writer.recordsPending), at: Counter.txPackets)
        counters.store(UInt64(writer.sink.capturedBytes), at: Counter.txBytes)
        counters.store(txDiscarded &+ UInt64(writer.recordsDropped), at: Counter.txErrors)
        if let failure = writer.failure { record(failure) }
    }

    /// Starts the next pass over the RX file, or marks the port exhausted.
    private func nextPass() {
        passesDone += 1
        let again = (loop == 0 || passesDone < loop) && recordsThisPass > 0
        recordsThisPass = 0
        reader?.close()
        reader = nil
        guard again, let rxPath else { rxExhausted.store(true, ordering: .releasing); return }
        do throws(PcapError) {
            reader = try PcapReader(path: rxPath)
        } catch {
            record(error)
            rxExhausted.store(true, ordering: .releasing)
        }
    }

    /// Keeps the first error and logs it once.
    private func record(_ error: PcapError) {
        let first = firstFailure.withLock { kept in
            guard kept == nil else { return false }
            kept = error
            return true
        }
        if first { logger.debug("\(name): \(error)") }
    }
}
