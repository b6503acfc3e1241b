import PMDCore
import SystemPackage

/// Physical addresses from `/proc/self/pagemap`, for no-IOMMU mode, where the device sees
/// physical memory and a buffer's IOVA is its physical address.
///
/// The file holds one 64-bit little-endian entry per virtual page of the process (4 KiB
/// pages, also inside a hugepage mapping): bit 63 present, bit 62 swapped, bits 0-54 the page
/// frame number (Linux Documentation/admin-guide/mm/pagemap.rst). The kernel shows frame
/// numbers only to CAP_SYS_ADMIN; others read 0.
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

    /// The physical address of the first byte of `region`, after checking that every page of
    /// it is present and that the whole region is physically contiguous.
    public static func physicalAddress(of region: DMAMemory, pagemap path: String = "/proc/self/pagemap") throws(VFIOError) -> UInt64 {
        let pageSize = UInt64(DMAMemory.smallPageSize)
        let pages = (region.length + Int(pageSize) - 1) / Int(pageSize)
        let firstPage = UInt64(UInt(bitPattern: region.address)) / pageSize
        let raw = try readEntries(path, firstPage: firstPage, count: pages)
        guard let base = Entry(raw: raw[0]).physicalAddress(offset: 0, pageSize: pageSize) else {
            throw .physicalAddressUnavailable(reason: "the page frame numbers read as 0")
        }
        for (i, value) in raw.enumerated() {
            guard let physical = Entry(raw: value).physicalAddress(offset: 0, pageSize: pageSize) else {
                throw .physicalAddressUnavailable(reason: "page \(i) of the region is not present")
            }
            if physical != base + UInt64(i) * pageSize { throw .notPhysicallyContiguous(bytes: region.length) }
        }
        return base
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
