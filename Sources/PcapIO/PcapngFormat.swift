/// The pcapng blocks the writer lays out (the IETF draft "PCAP Next Generation (pcapng) Capture
/// File Format"): every block is a type, a total length, a body padded to 32 bits and the total
/// length again; options are a code, a length, a value padded to 32 bits, and end with
/// opt_endofopt. Every field is in the byte order of the host, which the Section Header Block's
/// byte-order magic declares (little endian on the machines vfpmd runs on).
@usableFromInline
enum PcapngFormat {
    static let sectionHeaderType: UInt32 = 0x0A0D_0D0A
    static let interfaceDescriptionType: UInt32 = 1
    static let interfaceStatisticsType: UInt32 = 5
    @inlinable static var enhancedPacketType: UInt32 { 6 }
    static let byteOrderMagic: UInt32 = 0x1A2B_3C4D

    /// Bytes of an Enhanced Packet Block before the frame: type, length, interface, timestamp
    /// (high, low), captured and original lengths.
    @inlinable static var packetHeaderBytes: Int { 28 }
    /// Bytes of an Enhanced Packet Block after the padded frame: epb_flags (code 2, 4 bytes,
    /// the direction), opt_endofopt, and the total length.
    @inlinable static var packetTrailerBytes: Int { 16 }
    /// epb_flags of an interface: direction inbound (bits 0-1 = 01), or outbound (10) when its
    /// bit in `outboundInterfaces` is set (interface IDs below 64).
    @inlinable static func directionFlags(interface: UInt32, outboundInterfaces: UInt64) -> UInt32 {
        1 &+ UInt32(truncatingIfNeeded: (outboundInterfaces >> UInt64(interface & 63)) & 1)
    }
    /// Bytes of the Interface Statistics Block the writer ends a file with.
    static let statisticsBlockBytes = 8 + 12 + 6 * 12 + 4 + 4

    /// `count` rounded up to a multiple of 4.
    @inlinable static func padded(_ count: Int) -> Int { (count &+ 3) & ~3 }

    /// Bytes of the Enhanced Packet Block of a frame of `captured` bytes.
    @inlinable static func packetBlockBytes(captured: Int) -> Int {
        packetHeaderBytes &+ padded(captured) &+ packetTrailerBytes
    }

    /// Stores an Enhanced Packet Block of `blockBytes` bytes at `block`, all but the frame's
    /// `captured` bytes, which go at `block + packetHeaderBytes`; its padding is zero.
    /// `units` is the timestamp in the interface's resolution; `interface` the index of the
    /// interface's description block; `flags` its epb_flags.
    @inlinable
    static func storePacketBlock(at block: UnsafeMutableRawPointer, blockBytes: Int, captured: Int,
                                 originalLength: Int, units: UInt64, interface: UInt32, flags: UInt32) {
        let trailer = blockBytes &- packetTrailerBytes
        // The padding's word first (the frame's bytes overwrite its start; with no frame, the
        // original length overwrites it).
        block.storeBytes(of: UInt32(0), toByteOffset: trailer &- 4, as: UInt32.self)
        block.storeBytes(of: enhancedPacketType, toByteOffset: 0, as: UInt32.self)
        block.storeBytes(of: UInt32(truncatingIfNeeded: blockBytes), toByteOffset: 4, as: UInt32.self)
        block.storeBytes(of: interface, toByteOffset: 8, as: UInt32.self)
        block.storeBytes(of: UInt32(truncatingIfNeeded: units >> 32), toByteOffset: 12, as: UInt32.self)
        block.storeBytes(of: UInt32(truncatingIfNeeded: units), toByteOffset: 16, as: UInt32.self)
        block.storeBytes(of: UInt32(truncatingIfNeeded: captured), toByteOffset: 20, as: UInt32.self)
        block.storeBytes(of: UInt32(truncatingIfNeeded: originalLength), toByteOffset: 24, as: UInt32.self)
        block.storeBytes(of: UInt32(2 | 4 << 16), toByteOffset: trailer, as: UInt32.self)
        block.storeBytes(of: flags, toByteOffset: trailer &+ 4, as: UInt32.self)
        block.storeBytes(of: UInt32(0), toByteOffset: trailer &+ 8, as: UInt32.self)
        block.storeBytes(of: UInt32(truncatingIfNeeded: blockBytes), toByteOffset: trailer &+ 12, as: UInt32.self)
    }

    /// The Section Header Block and the Interface Description Blocks (one per interface, in
    /// order) a file starts with.
    static func fileHeader(_ description: PcapngDescription, snapLength: Int, precision: TimestampPrecision) -> [UInt8] {
        var section = BlockBuilder()
        section.append32(byteOrderMagic)
        section.append16(1)
        section.append16(0)
        section.append64(UInt64.max)
        section.option(2, description.hardware)
        section.option(3, description.operatingSystem)
        section.option(4, description.application)
        var blocks = section.block(sectionHeaderType)
        for port in description.interfaces {
            var interface = BlockBuilder()
            interface.append16(UInt16(truncatingIfNeeded: PcapFileFormat.ethernetLinkType))
            interface.append16(0)
            interface.append32(UInt32(truncatingIfNeeded: snapLength))
            interface.option(2, port.name)
            interface.option(3, port.description)
            interface.option(9, [precision == .nanosecond ? 9 : 6])
            if !description.filter.isEmpty { interface.option(11, [0] + Array(description.filter.utf8)) }
            blocks += interface.block(interfaceDescriptionType)
        }
        return blocks
    }

    /// Stores the Interface Statistics Block of `statistics`, the counters of interface
    /// `interface`, at `block` (`statisticsBlockBytes`), its timestamps in `precision`.
    static func storeStatisticsBlock(at block: UnsafeMutableRawPointer, _ statistics: InterfaceStatistics, interface: UInt32,
                                     precision: TimestampPrecision) {
        func units(_ nanoseconds: UInt64) -> UInt64 { precision == .nanosecond ? nanoseconds : nanoseconds / 1000 }
        var body = BlockBuilder()
        body.append32(interface)
        body.appendTime(units(statistics.endNanoseconds))
        var time = BlockBuilder()
        time.appendTime(units(statistics.startNanoseconds))
        body.option(2, time.bytes)
        time = BlockBuilder()
        time.appendTime(units(statistics.endNanoseconds))
        body.option(3, time.bytes)
        for (code, value) in [(4, statistics.received), (5, statistics.droppedByRing),
                              (6, statistics.acceptedByFilter), (7, statistics.droppedByWriter)] {
            var counter = BlockBuilder()
            counter.append64(value)
            body.option(UInt16(code), counter.bytes)
        }
        let bytes = body.block(interfaceStatisticsType)
        precondition(bytes.count == statisticsBlockBytes)
        bytes.withUnsafeBytes { block.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
    }

    /// The whole blocks at the start of the `length` bytes at `blocks`: the Enhanced Packet
    /// Blocks among them, the bytes they all span, and the frame bytes of the packets. A block
    /// cut short by the end of the bytes is not counted.
    static func wholeBlocks(in blocks: UnsafeRawPointer, length: Int) -> (count: Int, bytes: Int, captured: Int) {
        var whole = (count: 0, bytes: 0, captured: 0)
        while whole.bytes + 8 <= length {
            let type = blocks.loadUnaligned(fromByteOffset: whole.bytes, as: UInt32.self)
            let end = whole.bytes + Int(blocks.loadUnaligned(fromByteOffset: whole.bytes + 4, as: UInt32.self))
            guard end <= length else { break }
            if type == enhancedPacketType {
                whole.count += 1
                whole.captured += Int(blocks.loadUnaligned(fromByteOffset: whole.bytes + 20, as: UInt32.self))
            }
            whole.bytes = end
        }
        return whole
    }

    /// A block's body and options assembled in an array, when a file is opened or closed.
    struct BlockBuilder {
        var bytes: [UInt8] = []

        mutating func append16(_ value: UInt16) { withUnsafeBytes(of: value) { bytes += $0 } }
        mutating func append32(_ value: UInt32) { withUnsafeBytes(of: value) { bytes += $0 } }
        mutating func append64(_ value: UInt64) { withUnsafeBytes(of: value) { bytes += $0 } }
        /// A timestamp as pcapng stores it: the high 32 bits, then the low.
        mutating func appendTime(_ units: UInt64) {
            append32(UInt32(truncatingIfNeeded: units >> 32))
            append32(UInt32(truncatingIfNeeded: units))
        }

        /// The option `code` holding `value`, padded; nothing for an empty value.
        mutating func option(_ code: UInt16, _ value: [UInt8]) {
            guard !value.isEmpty else { return }
            append16(code)
            append16(UInt16(truncatingIfNeeded: value.count))
            bytes += value
            bytes += [UInt8](repeating: 0, count: PcapngFormat.padded(value.count) - value.count)
        }

        /// The option `code` holding the UTF-8 `text` (at most 65532 bytes of it).
        mutating func option(_ code: UInt16, _ text: String) { option(code, Array(text.utf8.prefix(65532))) }

        /// The block of `type` with this body, its options ended by opt_endofopt.
        func block(_ type: UInt32) -> [UInt8] {
            var out = BlockBuilder()
            let total = 8 + bytes.count + 4 + 4
            out.append32(type)
            out.append32(UInt32(total))
            out.bytes += bytes
            out.append32(0)
            out.append32(UInt32(total))
            return out.bytes
        }
    }
}
