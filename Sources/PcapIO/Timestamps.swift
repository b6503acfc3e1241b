import CPcap
import PMDCore

/// Precision of the timestamps in a capture file.
public enum TimestampPrecision: Sendable, Equatable {
    /// Nanoseconds (the pcap magic 0xa1b23c4d).
    case nanosecond
    /// Microseconds (the classic pcap magic 0xa1b2c3d4).
    case microsecond

    @usableFromInline var libpcapValue: Int32 {
        self == .nanosecond ? Int32(PCAP_TSTAMP_PRECISION_NANO) : Int32(PCAP_TSTAMP_PRECISION_MICRO)
    }
}

/// Turns packet timestamps into wall-clock nanoseconds since the epoch.
///
/// RX stamps packets with the TSC; a capture file wants wall-clock time. The clock is read once
/// per burst (`refresh()`), and each packet's time is that reading minus the packet's age in
/// TSC ticks. Packets already stamped in wall-clock nanoseconds (`.wallClockTimestamp`, pcap
/// sources) keep their time; packets with no timestamp get the burst's time.
@frozen
public struct WallClockStamper: Sendable {
    /// Wall-clock nanoseconds at the last `refresh()`.
    public private(set) var wallNow: UInt64
    /// TSC at the last `refresh()`.
    public private(set) var tscNow: UInt64
    /// Nanoseconds per TSC tick.
    public let nanosecondsPerTick: Double

    /// A stamper that has read the clocks once.
    public init() {
        nanosecondsPerTick = 1e9 / TSC.frequency
        wallNow = 0
        tscNow = 0
        refresh()
    }

    /// Reads both clocks: once per burst.
    public mutating func refresh() {
        tscNow = TSC.now()
        wallNow = MonotonicClock.wallNanoseconds()
    }

    /// Sets the burst's time explicitly (tests, replays): packets without a wall-clock stamp get it.
    public mutating func refresh(wallNanoseconds: UInt64) {
        tscNow = TSC.now()
        wallNow = wallNanoseconds
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
