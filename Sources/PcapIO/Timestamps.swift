import PMDCore

/// Precision of the timestamps in a capture file.
public enum TimestampPrecision: Sendable, Equatable {
    /// Nanoseconds (the pcap magic 0xa1b23c4d).
    case nanosecond
    /// Microseconds (the classic pcap magic 0xa1b2c3d4).
    case microsecond
}

/// Turns packet timestamps into wall-clock nanoseconds since the epoch.
///
/// RX stamps packets with the TSC; a capture file wants wall-clock time. The stamper reads the
/// wall clock and the TSC together at an anchor (`anchor()`, about once a second), and the TSC
/// alone once per burst (`refresh()`): the burst's wall time is the anchor's plus the ticks
/// since, and each packet's time is that minus its age in ticks. Packets already stamped in
/// wall-clock nanoseconds (`.wallClockTimestamp`, pcap sources) keep their time; packets with
/// no timestamp get the burst's time.
@frozen
public struct WallClockStamper: Sendable {
    /// Wall-clock nanoseconds at the last `refresh()`.
    public private(set) var wallNow: UInt64
    /// TSC at the last `refresh()`.
    public private(set) var tscNow: UInt64
    /// Nanoseconds per TSC tick.
    public let nanosecondsPerTick: Double
    @usableFromInline var anchorWall: UInt64
    @usableFromInline var anchorTSC: UInt64

    /// A stamper anchored now.
    public init() {
        nanosecondsPerTick = 1e9 / TSC.frequency
        wallNow = 0
        tscNow = 0
        anchorWall = 0
        anchorTSC = 0
        anchor()
    }

    /// Reads the wall clock and the TSC together; keeps the conversion true to the wall clock
    /// (NTP slews it). Call about once a second.
    public mutating func anchor() {
        anchorTSC = TSC.now()
        anchorWall = MonotonicClock.wallNanoseconds()
        tscNow = anchorTSC
        wallNow = anchorWall
    }

    /// Reads the TSC: once per burst.
    public mutating func refresh() {
        tscNow = TSC.now()
        wallNow = anchorWall &+ UInt64(Double(tscNow &- anchorTSC) * nanosecondsPerTick)
    }

    /// Sets the burst's time explicitly (tests, replays): packets without a wall-clock stamp get it.
    public mutating func refresh(wallNanoseconds: UInt64) {
        tscNow = TSC.now()
        wallNow = wallNanoseconds
    }

    /// Nanoseconds between the TSC readings `earlier` and `later`.
    @inlinable
    public func nanoseconds(from earlier: UInt64, to later: UInt64) -> UInt64 {
        later > earlier ? UInt64(Double(later &- earlier) * nanosecondsPerTick) : 0
    }

    /// The wall-clock time of a packet with `metadata`.
    @inlinable
    public func wallNanoseconds(of metadata: UnsafePointer<PacketMetadata>) -> UInt64 {
        let stamp = metadata.pointee.timestamp
        if metadata.pointee.flags.contains(.wallClockTimestamp) { return stamp }
        if stamp == 0 || stamp > tscNow { return wallNow }
        let ageNanoseconds = UInt64(Double(tscNow &- stamp) * nanosecondsPerTick)
        return ageNanoseconds < wallNow ? wallNow &- ageNanoseconds : 0
    }
}
