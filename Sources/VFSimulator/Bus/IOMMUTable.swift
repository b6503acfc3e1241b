/// One IOVA → host range of the IOMMU table.
@frozen
public struct IOMMUEntry {
    /// First IOVA of the range.
    public let iova: UInt64
    /// Length in bytes.
    public let length: UInt64
    /// Host address of `iova`.
    public let host: UnsafeMutableRawPointer

    @usableFromInline init(iova: UInt64, length: UInt64, host: UnsafeMutableRawPointer) {
        self.iova = iova
        self.length = length
        self.host = host
    }
}

/// An immutable IOMMU table: a count followed by sorted entries, in one allocation.
@frozen
public struct IOMMUTable {
    /// Number of entries.
    public let count: Int
    /// First entry.
    public let entries: UnsafeMutablePointer<IOMMUEntry>

    static func make(entries list: [IOMMUEntry]) -> UnsafeMutablePointer<IOMMUTable> {
        let entries = UnsafeMutablePointer<IOMMUEntry>.allocate(capacity: max(1, list.count))
        for (i, e) in list.enumerated() { (entries + i).initialize(to: e) }
        let t = UnsafeMutablePointer<IOMMUTable>.allocate(capacity: 1)
        t.initialize(to: IOMMUTable(count: list.count, entries: entries))
        return t
    }

    static func free(_ t: UnsafeMutablePointer<IOMMUTable>) {
        t.pointee.entries.deallocate()
        t.deallocate()
    }
}

/// A trivial handle to an IOMMU table snapshot, for the engine's hot path.
@frozen
public struct IOMMUTableRef {
    /// The snapshot.
    public let pointer: UnsafeMutablePointer<IOMMUTable>

    @inlinable init(pointer: UnsafeMutablePointer<IOMMUTable>) { self.pointer = pointer }

    /// Host address of `length` bytes at `iova`, or nil when they are not all inside one mapping.
    @inlinable
    public func translate(_ iova: UInt64, length: Int) -> UnsafeMutableRawPointer? {
        var hint = 0
        return translate(iova, length: length, hint: &hint)
    }

    /// As `translate(_:length:)`, trying entry `hint` first and leaving the matching entry in it.
    @inlinable
    public func translate(_ iova: UInt64, length: Int, hint: inout Int) -> UnsafeMutableRawPointer? {
        let n = pointer.pointee.count
        let entries = pointer.pointee.entries
        let len = UInt64(length)
        if hint < n {
            let e = entries[hint]
            if iova >= e.iova && iova &- e.iova <= e.length && len <= e.length &- (iova &- e.iova) {
                return e.host + Int(iova &- e.iova)
            }
        }
        var i = 0
        while i < n {
            let e = entries[i]
            if iova >= e.iova && iova &- e.iova <= e.length && len <= e.length &- (iova &- e.iova) {
                hint = i
                return e.host + Int(iova &- e.iova)
            }
            i &+= 1
        }
        return nil
    }
}

/// One mapping of an IOMMU table held in registers by a burst: an address inside it translates
/// with a subtraction and two compares, without loading the table; one outside it goes to the
/// table (`translate(_:length:table:hint:)`), which moves the window to the mapping it found.
struct TranslationWindow {
    private var iova: UInt64 = 0
    private var length: UInt64 = 0
    private var host: UnsafeMutableRawPointer?

    /// An empty window: the first translation goes to the table.
    init() {}

    /// Host address of `length` bytes at `iova`, or nil when they are not all inside one mapping.
    @inline(__always)
    mutating func translate(_ iova: UInt64, length: Int, table: IOMMUTableRef, hint: inout Int) -> UnsafeMutableRawPointer? {
        let offset = iova &- self.iova
        if let host, offset <= self.length && UInt64(length) <= self.length &- offset { return host + Int(offset) }
        guard let found = table.translate(iova, length: length, hint: &hint) else { return nil }
        let e = table.pointer.pointee.entries[hint]
        self.iova = e.iova
        self.length = e.length
        host = e.host
        return found
    }
}
