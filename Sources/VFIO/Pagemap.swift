import PMDCore
import SystemPackage

/// Physical addresses from `/proc/self/pagemap`, for no-IOMMU mode, where the device sees
/// physical memory and a buffer's address is its physical address.
///
/// The file holds one 64-bit little-endian entry per virtual page of the process (4 KiB
/// pages, also inside a hugepage mapping): bit 63 present, bit 62 swapped, bits 0-54 the page
/// frame number (Linux Documentation/admin-guide/mm/pagemap.rst). The kernel shows frame
/// numbers only to CAP_SYS_ADMIN; others read 0.
///
/// A region is addressed one hugepage at a time: a hugepage is physically contiguous, two of
/// them seldom are. The addresses are read once, when the region is mapped; the driver then
/// looks a buffer's address up in that table.
public enum Pagemap {
    /// One decoded pagemap entry.
    public struct Entry: Equatable, Sendable {
        /// The page is in RAM.
        public let present: Bool
        /// The page is in swap (cannot happen for locked memory).
        public let swapped: Bool
        /// Page frame number (0 when hidden from an unprivileged process).
        public let frameNumber: UInt64

        /// Decodes the raw 64-bit entry.
        public init(raw: UInt64) {
            present = raw & (1 << 63) != 0
            swapped = raw & (1 << 62) != 0
            frameNumber = raw & ((1 << 55) - 1)
        }

        /// The physical address of byte `offset` of this page, nil when not known.
        public func physicalAddress(offset: UInt64, pageSize: UInt64) -> UInt64? {
            guard present, !swapped, frameNumber != 0 else { return nil }
            return frameNumber * pageSize + offset
        }
    }

    /// The physical address of each hugepage of `region`: its device addresses in no-IOMMU
    /// mode. Refuses a region of 4 KiB pages, which are neither contiguous nor pinned against
    /// migration.
    public static func deviceAddresses(of region: DMAMemory, pagemap path: String = "/proc/self/pagemap") throws(VFIOError) -> DeviceAddresses {
        guard region.usesHugepages else { throw .noIOMMUNeedsHugepages }
        let bases = try segmentAddresses(virtualAddress: UInt(bitPattern: region.address), length: region.length,
                                         segmentSize: region.pageSize, pagemap: path)
        return .segmented(bases, segmentSize: region.pageSize)
    }

    /// The physical address of each `segmentSize`-byte segment of the `length` bytes at
    /// `virtualAddress` (segment aligned), read from the pagemap file at `path` in one read.
    /// Every small page of a segment must be present and follow the one before it physically,
    /// and every segment must end below `limit` (what vfpmd gives a device to address).
    public static func segmentAddresses(
        virtualAddress: UInt, length: Int, segmentSize: Int, pagemap path: String = "/proc/self/pagemap",
        limit: UInt64 = IOVAAllocator.thirtyNineBits
    ) throws(VFIOError) -> [UInt64] {
        let pageSize = DMAMemory.smallPageSize
        precondition(segmentSize % pageSize == 0 && Int(virtualAddress) % segmentSize == 0 && length % segmentSize == 0,
                     "segments must be whole, aligned pages")
        let pagesPerSegment = segmentSize / pageSize
        let raw = try readEntries(path, firstPage: UInt64(virtualAddress) / UInt64(pageSize), count: length / pageSize)
        var bases: [UInt64] = []
        for segment in 0..<(length / segmentSize) {
            let first = segment * pagesPerSegment
            let entry = Entry(raw: raw[first])
            if entry.present && !entry.swapped && entry.frameNumber == 0 { throw .physicalAddressesHidden }
            guard let base = entry.physicalAddress(offset: 0, pageSize: UInt64(pageSize)) else {
                throw .physicalAddressUnavailable(reason: "page \(first) of a DMA region is not in memory")
            }
            for i in 1..<max(1, pagesPerSegment) {
                let next = Entry(raw: raw[first + i]).physicalAddress(offset: 0, pageSize: UInt64(pageSize))
                guard next == base + UInt64(i * pageSize) else { throw .notPhysicallyContiguous(bytes: segmentSize) }
            }
            let (end, overflow) = base.addingReportingOverflow(UInt64(segmentSize))
            guard !overflow, end <= limit else { throw .physicalAddressBeyondReach(address: base, limit: limit) }
            bases.append(base)
        }
        return bases
    }

    private static func readEntries(_ path: String, firstPage: UInt64, count: Int) throws(VFIOError) -> [UInt64] {
        do {
            let fd = try FileDescriptor.open(FilePath(path), .readOnly)
            defer { try? fd.close() }
            var entries = [UInt64](repeating: 0, count: count)
            let bytes = try entries.withUnsafeMutableBytes { try fd.read(fromAbsoluteOffset: Int64(firstPage * 8), into: $0) }
            guard bytes == count * 8 else { throw Errno.ioError }
            return entries.map { UInt64(littleEndian: $0) }
        } catch let errno as Errno {
            throw .physicalAddressUnavailable(reason: "\(path): \(errno)")
        } catch {
            throw .physicalAddressUnavailable(reason: "\(path): \(error)")
        }
    }
}
