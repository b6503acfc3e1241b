extension PcapReader {
    /// Reads records of a file the reader's own cursor reads (`readsRecordsInPlace`) straight
    /// from its read buffer into `slab`, as `RecordSlabReading` describes: no pool buffer, no
    /// metadata, one copy per frame. Stops at `reading`'s limits, when the slab has no room
    /// for the largest record, at the end of the file, or at a bad record. As with
    /// `read(into:from:)`, records read before an error are kept and the error comes with the
    /// next call; a file libpcap reads gets nothing read.
    public func read(into slab: inout RecordSlab, _ reading: inout RecordSlabReading, filter: PacketFilter?) throws(PcapError) {
        if let error = pendingError {
            pendingError = nil
            throw error
        }
        guard !isAtEnd, var cursor else { return }
        let records = recordsRead
        let (readBefore, bytesBefore) = (reading.read, reading.bytes)
        var failure: PcapError?
        let ended = Self.read(from: &cursor, into: &slab, &reading, filter: filter, failure: &failure, path: path,
                              recordsBefore: records)
        self.cursor = cursor
        recordsRead = records &+ (reading.read &- readBefore)
        bytesRead &+= reading.bytes &- bytesBefore
        if let failure {
            isAtEnd = true
            if reading.read == readBefore { throw failure }
            pendingError = failure
        } else if ended {
            isAtEnd = true
        }
    }

    /// The loop of `read(into:_:filter:)`, over a cursor in a local: adds what it read to
    /// `reading`'s counts (its limits count from the start of the reading); returns whether the
    /// file ended. Sets `failure` at a bad record or a frame larger than `reading.largestFrame`.
    /// Each kind of record, with or without a filter, has a copy of the loop of its own, with
    /// fewer values to keep in registers.
    private static func read(
        from cursor: inout ClassicPcapCursor, into slab: inout RecordSlab, _ reading: inout RecordSlabReading,
        filter: PacketFilter?, failure: inout PcapError?, path: String, recordsBefore: Int
    ) -> Bool {
        switch (filter, reading.pcapRecords) {
        case (nil, nil):
            return copy(from: &cursor, into: &slab, &reading, filter: nil, pcap: false, nanosecond: false,
                        failure: &failure, path: path, recordsBefore: recordsBefore)
        case let (nil, precision?):
            return copy(from: &cursor, into: &slab, &reading, filter: nil, pcap: true, nanosecond: precision == .nanosecond,
                        failure: &failure, path: path, recordsBefore: recordsBefore)
        case let (filter?, nil):
            return copy(from: &cursor, into: &slab, &reading, filter: filter, pcap: false, nanosecond: false,
                        failure: &failure, path: path, recordsBefore: recordsBefore)
        case let (filter?, precision?):
            return copy(from: &cursor, into: &slab, &reading, filter: filter, pcap: true, nanosecond: precision == .nanosecond,
                        failure: &failure, path: path, recordsBefore: recordsBefore)
        }
    }

    /// The loop itself, inlined into each call of `read(from:into:_:filter:failure:path:recordsBefore:)`:
    /// with `pcap`, pcap file records (their fractions in nanoseconds when `nanosecond`).
    @inline(__always)
    private static func copy(
        from cursor: inout ClassicPcapCursor, into slab: inout RecordSlab, _ reading: inout RecordSlabReading,
        filter: PacketFilter?, pcap: Bool, nanosecond: Bool, failure: inout PcapError?, path: String, recordsBefore: Int
    ) -> Bool {
        let snapLength = reading.snapLength
        let largestFrame = reading.largestFrame
        let recordLimit = reading.recordLimit &- reading.read
        let appendLimit = reading.appendLimit &- reading.appended
        reading.slabIsFull = false
        // The largest record this file can make in the slab: while the slab has room for it,
        // the next record fits.
        let largest = RecordSlab.recordBytes(captured: min(snapLength, cursor.layout.snapLength, largestFrame))
        precondition(slab.capacity >= largest, "a slab holds the largest record")
        let roomLeft = slab.capacity &- largest
        var read = 0
        var appended = 0
        var bytes: UInt64 = 0
        var filtered = reading.filteredSinceRecord
        var dropped = reading.droppedSinceRecord
        var ended = false
        reading: while read < recordLimit && appended < appendLimit {
            guard slab.bytes <= roomLeft else {
                reading.slabIsFull = true
                break
            }
            switch cursor.next() {
            case let .record(record):
                let length = record.capturedLength
                guard length <= largestFrame else {
                    failure = .frameTooLarge(path: path, record: recordsBefore &+ read &+ 1, length: length, bufferSize: largestFrame)
                    break reading
                }
                read &+= 1
                bytes &+= UInt64(truncatingIfNeeded: length)
                if let filter, !filter.matches(record.data, length: length) {
                    filtered &+= 1
                    continue
                }
                if pcap {
                    _ = slab.appendPcapRecord(record.data, length: length, snapLength: snapLength,
                                              wallNanoseconds: record.timestampNanoseconds, nanosecond: nanosecond)
                } else {
                    _ = slab.append(record.data, length: length, restoring: nil, snapLength: snapLength,
                                    wallNanoseconds: record.timestampNanoseconds, interface: 0,
                                    filteredBefore: filtered, droppedBefore: dropped)
                }
                filtered = 0
                dropped = 0
                appended &+= 1
            case .end:
                ended = true
                break reading
            case let .failure(reason):
                failure = .malformedRecord(path: path, record: recordsBefore &+ read &+ 1, reason: reason.reason)
                break reading
            }
        }
        reading.read &+= read
        reading.appended &+= appended
        reading.bytes &+= bytes
        reading.filteredSinceRecord = filtered
        reading.droppedSinceRecord = dropped
        return ended
    }
}
