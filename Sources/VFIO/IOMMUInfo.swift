/// What `VFIO_IOMMU_GET_INFO` reports about a type-1 IOMMU: the page sizes it maps, the I/O
/// virtual address ranges a process may use, and how many more DMA mappings it accepts.
///
/// The kernel answers with `struct vfio_iommu_type1_info` followed by a chain of capabilities
/// (`vfio_info_cap_header`: id, version, offset of the next one from the start of the info,
/// 0 at the end). Parsed here from the raw bytes, so that the parser can be tested without a
/// kernel.
public struct IOMMUInfo: Equatable, Sendable {
    /// Bit n set: pages of 2^n bytes can be mapped. Nil when the kernel did not say.
    public var pageSizes: UInt64?
    /// The usable IOVA ranges (inclusive ends). Nil when the kernel did not report them
    /// (kernels before 5.4): then the whole 39-bit space below the MSI window is assumed.
    public var iovaRanges: [ClosedRange<UInt64>]?
    /// How many more DMA mappings the container accepts (vfio_iommu_type1's dma_entry_limit).
    public var dmaMappingsAvailable: Int?

    /// Byte offsets in `struct vfio_iommu_type1_info` (uapi <linux/vfio.h>).
    enum Layout {
        static let argsz = 0
        static let flags = 4
        static let pageSizes = 8
        static let capOffset = 16
        static let size = 24
        /// `VFIO_IOMMU_INFO_PGSIZES`: `iova_pgsizes` is valid.
        static let flagPageSizes: UInt32 = 1 << 0
        /// `VFIO_IOMMU_INFO_CAPS`: `cap_offset` is valid.
        static let flagCaps: UInt32 = 1 << 1
        /// `VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE`.
        static let capIOVARange: UInt16 = 1
        /// `VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL`.
        static let capDMAAvailable: UInt16 = 3
        /// Bytes of `vfio_info_cap_header`.
        static let capHeader = 8
    }

    /// An info with the given fields.
    public init(pageSizes: UInt64? = nil, iovaRanges: [ClosedRange<UInt64>]? = nil, dmaMappingsAvailable: Int? = nil) {
        self.pageSizes = pageSizes
        self.iovaRanges = iovaRanges
        self.dmaMappingsAvailable = dmaMappingsAvailable
    }

    /// The `argsz` the kernel asked for: when larger than the buffer it was given, the call is
    /// repeated with a buffer this large to receive the capability chain.
    public static func requiredSize(_ bytes: [UInt8]) -> Int {
        bytes.count >= 4 ? Int(bytes.loadLE(UInt32.self, at: Layout.argsz)) : Layout.size
    }

    /// Parses the info and its capability chain from `bytes`.
    public init(parsing bytes: [UInt8]) throws(VFIOError) {
        guard bytes.count >= Layout.size else { throw .unsupportedKernel("VFIO_IOMMU_GET_INFO returned \(bytes.count) bytes") }
        let flags = bytes.loadLE(UInt32.self, at: Layout.flags)
        self.init()
        if flags & Layout.flagPageSizes != 0 {
            pageSizes = bytes.loadLE(UInt64.self, at: Layout.pageSizes)
        }
        guard flags & Layout.flagCaps != 0 else { return }
        var offset = Int(bytes.loadLE(UInt32.self, at: Layout.capOffset))
        var seen = Set<Int>()
        while offset != 0 {
            guard offset >= Layout.size, offset + Layout.capHeader <= bytes.count, seen.insert(offset).inserted else {
                throw .unsupportedKernel("the IOMMU capability chain is malformed at offset \(offset)")
            }
            let id = bytes.loadLE(UInt16.self, at: offset)
            let next = Int(bytes.loadLE(UInt32.self, at: offset + 4))
            switch id {
            case Layout.capIOVARange:
                iovaRanges = try Self.parseRanges(bytes, at: offset)
            case Layout.capDMAAvailable:
                guard offset + Layout.capHeader + 4 <= bytes.count else {
                    throw .unsupportedKernel("the IOMMU DMA-available capability is truncated")
                }
                dmaMappingsAvailable = Int(bytes.loadLE(UInt32.self, at: offset + Layout.capHeader))
            default:
                break // other capabilities (migration) do not concern a driver
            }
            offset = next
        }
    }

    /// `struct vfio_iommu_type1_info_cap_iova_range`: header, nr_iovas, reserved, ranges.
    private static func parseRanges(_ bytes: [UInt8], at offset: Int) throws(VFIOError) -> [ClosedRange<UInt64>] {
        let countOffset = offset + Layout.capHeader
        guard countOffset + 8 <= bytes.count else { throw .unsupportedKernel("the IOVA-range capability is truncated") }
        let count = Int(bytes.loadLE(UInt32.self, at: countOffset))
        let first = countOffset + 8
        guard count <= (bytes.count - first) / 16 else {
            throw .unsupportedKernel("the IOVA-range capability announces \(count) ranges but holds fewer")
        }
        var ranges: [ClosedRange<UInt64>] = []
        for i in 0..<count {
            let start = bytes.loadLE(UInt64.self, at: first + 16 * i)
            let end = bytes.loadLE(UInt64.self, at: first + 16 * i + 8)
            guard start <= end else { throw .unsupportedKernel("the IOVA range \(i) ends before it starts") }
            ranges.append(start...end)
        }
        return ranges.sorted { $0.lowerBound < $1.lowerBound }
    }

    /// The ranges to allocate IOVAs from: the reported ones, or below 39 bits without the x86
    /// MSI window (0xfee00000-0xfeefffff) when the kernel reported none.
    public var usableRanges: [ClosedRange<UInt64>] {
        iovaRanges ?? [0...0xFEDF_FFFF, 0xFEF0_0000...((1 << 39) - 1)]
    }
}

extension Array where Element == UInt8 {
    /// The little-endian integer at `offset` (unaligned reads allowed).
    func loadLE<T: FixedWidthInteger>(_ type: T.Type, at offset: Int) -> T {
        withUnsafeBytes { T(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: T.self)) }
    }
}
