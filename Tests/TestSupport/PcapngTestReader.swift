import Foundation

/// A pcapng file read back block by block, for tests: a reader of its own, written from the
/// specification apart from the writer, that checks each block's framing as it goes.
public struct PcapngTestReader {
    /// One block: its type, its body (between the total lengths) and its options by code.
    public struct Block {
        /// The block type.
        public var type: UInt32
        /// The bytes between the leading and the trailing total length.
        public var body: [UInt8]
        /// The options, in order, as (code, value) pairs; opt_endofopt not included.
        public var options: [(code: UInt16, value: [UInt8])]

        /// The value of option `code` as UTF-8 text.
        public func text(_ code: UInt16) -> String? {
            options.first { $0.code == code }.map { String(decoding: $0.value, as: UTF8.self) }
        }

        /// The value of option `code` as a 64-bit counter.
        public func counter(_ code: UInt16) -> UInt64? {
            options.first { $0.code == code && $0.value.count == 8 }.map { PcapngTestReader.load64($0.value, 0) }
        }
    }

    /// An Enhanced Packet Block's fields.
    public struct Packet: Equatable {
        /// The interface it was captured on.
        public var interface: UInt32
        /// The timestamp in the interface's units.
        public var units: UInt64
        /// The frame's captured bytes.
        public var bytes: [UInt8]
        /// The frame's length on the wire.
        public var originalLength: Int
        /// epb_flags, when present.
        public var flags: UInt32?

        /// A test's packet.
        public init(interface: UInt32, units: UInt64, bytes: [UInt8], originalLength: Int, flags: UInt32?) {
            (self.interface, self.units, self.bytes, self.originalLength, self.flags) = (interface, units, bytes, originalLength, flags)
        }

        /// A timestamp option's value (the high 32 bits, then the low) in the interface's units.
        public static func units(_ value: [UInt8]) -> UInt64 {
            UInt64(load32(value, 0)) << 32 | UInt64(load32(value, 4))
        }
    }

    /// The blocks in file order.
    public private(set) var blocks: [Block] = []
    /// Bytes of the file after its last whole block (0 for a file that ends with one).
    public private(set) var trailingBytes = 0

    /// Reads `path`; throws when a block's framing is wrong (lengths that disagree or are not
    /// multiples of 4, options running past their block, no Section Header Block first).
    public init(path: String) throws {
        let data = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        var offset = 0
        while offset + 12 <= data.count {
            let type = Self.load32(data, offset)
            let length = Int(Self.load32(data, offset + 4))
            guard length >= 12, length % 4 == 0 else { throw TestFailure("block at \(offset): total length \(length)") }
            guard offset + length <= data.count else { break }
            guard Int(Self.load32(data, offset + length - 4)) == length else {
                throw TestFailure("block at \(offset): trailing length differs")
            }
            if blocks.isEmpty && type != 0x0A0D_0D0A { throw TestFailure("the file does not start with a Section Header Block") }
            let body = Array(data[(offset + 8)..<(offset + length - 4)])
            blocks.append(Block(type: type, body: body, options: try Self.options(of: type, body)))
            offset += length
        }
        trailingBytes = data.count - offset
    }

    /// The Section Header Blocks.
    public var sectionHeaders: [Block] { blocks.filter { $0.type == 0x0A0D_0D0A } }
    /// The Interface Description Blocks.
    public var interfaces: [Block] { blocks.filter { $0.type == 1 } }
    /// The Interface Statistics Blocks.
    public var statistics: [Block] { blocks.filter { $0.type == 5 } }

    /// The Enhanced Packet Blocks.
    public var packets: [Packet] {
        blocks.filter { $0.type == 6 }.map { block in
            let b = block.body
            let captured = Int(Self.load32(b, 12))
            let units = UInt64(Self.load32(b, 4)) << 32 | UInt64(Self.load32(b, 8))
            let flags = block.options.first { $0.code == 2 && $0.value.count == 4 }.map { Self.load32($0.value, 0) }
            return Packet(interface: Self.load32(b, 0), units: units, bytes: Array(b[20..<(20 + captured)]),
                          originalLength: Int(Self.load32(b, 16)), flags: flags)
        }
    }

    /// Where a block's options start in its body.
    static func optionsStart(of type: UInt32, _ body: [UInt8]) -> Int? {
        switch type {
        case 0x0A0D_0D0A: return 16
        case 1: return 8
        case 5: return 12
        case 6: return 20 + (Int(load32(body, 12)) + 3) / 4 * 4
        default: return nil
        }
    }

    static func options(of type: UInt32, _ body: [UInt8]) throws -> [(code: UInt16, value: [UInt8])] {
        guard var offset = optionsStart(of: type, body) else { return [] }
        var options: [(code: UInt16, value: [UInt8])] = []
        while offset + 4 <= body.count {
            let code = UInt16(body[offset]) | UInt16(body[offset + 1]) << 8
            let length = Int(UInt16(body[offset + 2]) | UInt16(body[offset + 3]) << 8)
            if code == 0 { return options }
            let end = offset + 4 + length
            guard end <= body.count else { throw TestFailure("option \(code) runs past its block") }
            options.append((code, Array(body[(offset + 4)..<end])))
            offset = offset + 4 + (length + 3) / 4 * 4
        }
        guard offset == body.count else { throw TestFailure("options of block type \(type) end off their block") }
        return options
    }

    /// The little-endian 32-bit value at `offset` of `bytes`.
    public static func load32(_ bytes: [UInt8], _ offset: Int) -> UInt32 {
        (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[offset + $1]) << (8 * $1) }
    }

    static func load64(_ bytes: [UInt8], _ offset: Int) -> UInt64 {
        UInt64(load32(bytes, offset)) | UInt64(load32(bytes, offset + 4)) << 32
    }
}
