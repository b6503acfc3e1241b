/// One reading of a classic pcap file's records straight into `RecordSlab`s, one slab after
/// another (`PcapReader.read(into:_:filter:)`, `PcapPort.receive(into:_:filter:)`): what it may
/// do, and what it did so far.
///
/// Each record becomes the slab record a capture's receive thread makes of a frame it
/// received into a pool buffer (see `RecordSlab.append`): its captured bytes as the frame, cut
/// to `snapLength`, stamped with the record's time, on interface 0; a frame the filter does not
/// match is read and counted, not appended.
@frozen
public struct RecordSlabReading {
    /// Records to read at most.
    public var recordLimit: Int
    /// Records to append at most (what is left of a `-c` count).
    public var appendLimit: Int
    /// Bytes kept of each frame.
    public var snapLength: Int
    /// The largest frame taken (a pool buffer's data room): a larger record is an error, as it
    /// is for a port receiving into buffers of that size.
    public var largestFrame: Int
    /// Append pcap file records of this precision (`RecordSlab.appendPcapRecord`) to slabs
    /// that `holdsPcapRecords`; nil appends records of the slab's own layout.
    public var pcapRecords: TimestampPrecision?
    /// Frames of the interface filtered out since its last record appended: the next record
    /// carries them (carried over from reading to reading).
    public var filteredSinceRecord: UInt64
    /// Frames of the interface dropped by the writer since its last record appended: the next
    /// record carries them (carried over from reading to reading).
    public var droppedSinceRecord: UInt64
    /// Records read (appended or filtered out), over every slab of the reading.
    public var read = 0
    /// Records appended, over every slab of the reading.
    public var appended = 0
    /// Captured bytes of the records read.
    public var bytes: UInt64 = 0
    /// Whether the last slab filled stopped the reading: it has no room for the largest record
    /// (the reading goes on into the next slab).
    public var slabIsFull = false

    /// A reading of at most `recordLimit` records, `appendLimit` of them appended, frames cut
    /// to `snapLength` bytes, none larger than `largestFrame`, as pcap file records of
    /// `pcapRecords` precision when given; the counts of frames not handed over since the last
    /// record come from the previous reading.
    @inlinable
    public init(recordLimit: Int, appendLimit: Int, snapLength: Int, largestFrame: Int, pcapRecords: TimestampPrecision? = nil,
                filteredSinceRecord: UInt64, droppedSinceRecord: UInt64) {
        self.recordLimit = recordLimit
        self.appendLimit = appendLimit
        self.snapLength = snapLength
        self.largestFrame = largestFrame
        self.pcapRecords = pcapRecords
        self.filteredSinceRecord = filteredSinceRecord
        self.droppedSinceRecord = droppedSinceRecord
    }

    /// Records read and not appended: the filter did not match them.
    @inlinable public var filteredOut: Int { read &- appended }
}
