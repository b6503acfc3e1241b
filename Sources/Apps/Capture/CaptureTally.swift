import PcapIO

/// The receive thread's counters of a capture, per port, in memory of its own (no array
/// copy-on-write or reference count per frame). Only the receive thread writes them.
final class CaptureTally {
    /// Ports counted.
    let portCount: Int
    /// Frames each port delivered.
    let received: UnsafeMutablePointer<UInt64>
    /// Frames handed to the writer thread.
    let handed: UnsafeMutablePointer<UInt64>
    /// Frames the filter did not match.
    let filteredOut: UnsafeMutablePointer<UInt64>
    /// Frames that did not fit in the ring (the writer was behind).
    let droppedByWriter: UnsafeMutablePointer<UInt64>
    /// Frames delivered in the round that reached `-c`, not looked at.
    let leftAtStop: UnsafeMutablePointer<UInt64>
    /// The port's ring drops (`rxMissed`) since the start.
    let droppedByRing: UnsafeMutablePointer<UInt64>
    /// Frames filtered out since the port's last record handed over (the record carries them).
    let filteredSinceRecord: UnsafeMutablePointer<UInt64>
    /// Frames dropped by the writer since the port's last record handed over.
    let droppedSinceRecord: UnsafeMutablePointer<UInt64>
    private let storage: UnsafeMutablePointer<UInt64>

    /// All zero, for `ports` ports.
    init(ports: Int) {
        portCount = ports
        storage = .allocate(capacity: 8 * ports)
        storage.initialize(repeating: 0, count: 8 * ports)
        received = storage
        handed = storage + ports
        filteredOut = storage + 2 * ports
        droppedByWriter = storage + 3 * ports
        leftAtStop = storage + 4 * ports
        droppedByRing = storage + 5 * ports
        filteredSinceRecord = storage + 6 * ports
        droppedSinceRecord = storage + 7 * ports
    }

    deinit { storage.deallocate() }

    /// The counters of `port`; `written` is what was handed to the writer when
    /// `handedAsWritten`, else 0 (the caller puts what the files hold).
    func counters(of port: Int, handedAsWritten: Bool) -> CaptureCounters {
        var c = CaptureCounters()
        c.received = received[port]
        c.written = handedAsWritten ? handed[port] : 0
        c.filteredOut = filteredOut[port]
        c.droppedByWriter = droppedByWriter[port]
        c.leftAtStop = leftAtStop[port]
        c.droppedByRing = droppedByRing[port]
        return c
    }

    /// The counters of all ports together; `written` is what was handed to the writer when
    /// `handedAsWritten` (the live view), else 0 (the caller puts the files' count).
    func totals(handedAsWritten: Bool) -> CaptureCounters {
        var total = CaptureCounters()
        for port in 0..<portCount {
            let c = counters(of: port, handedAsWritten: handedAsWritten)
            total.received &+= c.received
            total.written &+= c.written
            total.filteredOut &+= c.filteredOut
            total.droppedByWriter &+= c.droppedByWriter
            total.leftAtStop &+= c.leftAtStop
            total.droppedByRing &+= c.droppedByRing
        }
        return total
    }

    /// The Interface Statistics Block counters of `port` at the end of a capture that started
    /// at `start` (wall-clock nanoseconds).
    func interfaceStatistics(of port: Int, start: UInt64) -> InterfaceStatistics {
        var block = InterfaceStatistics()
        block.startNanoseconds = start
        block.received = received[port]
        block.droppedByRing = droppedByRing[port]
        block.acceptedByFilter = handed[port] &+ droppedByWriter[port]
        block.droppedByWriter = droppedByWriter[port]
        return block
    }
}
