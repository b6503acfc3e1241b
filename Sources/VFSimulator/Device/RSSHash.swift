/// The Microsoft Toeplitz RSS hash, as the 82599/X550 receive path computes it over the IP
/// addresses and TCP/UDP ports, with a per-byte lookup table built once per key.
struct RSSHash {
    /// The key of the Microsoft RSS verification suite (also a common default).
    static let microsoftKey: [UInt8] = [
        0x6D, 0x5A, 0x56, 0xDA, 0x25, 0x5B, 0x0E, 0xC2, 0x41, 0x67, 0x25, 0x3D, 0x43, 0xA3, 0x8F, 0xB0,
        0xD0, 0xCA, 0x2B, 0xCB, 0xAE, 0x7B, 0x30, 0xB4, 0x77, 0xCB, 0x2D, 0xA3, 0x80, 0x30, 0xF2, 0x0C,
        0x6A, 0x42, 0xB7, 0x3B, 0xBE, 0xAC, 0x01, 0xFA,
    ]

    /// Bytes of an RSS key (82599 datasheet §7.1.2.8.3: the verification key above).
    static let keyLength = 40

    /// MRQC hash-field bits: IPv4/TCP, IPv4, IPv6, IPv6/TCP, IPv4/UDP, IPv6/UDP (VFMRQC of the
    /// X550; the PF's MRQC on 82599, which the PF settings stand for).
    static let fieldIPv4TCP: UInt32 = 1 << 16, fieldIPv4: UInt32 = 1 << 17, fieldIPv6: UInt32 = 1 << 20
    static let fieldIPv6TCP: UInt32 = 1 << 21, fieldIPv4UDP: UInt32 = 1 << 22, fieldIPv6UDP: UInt32 = 1 << 23
    /// Fields a PF enables by default (no UDP ports).
    static let defaultFields: UInt32 = fieldIPv4TCP | fieldIPv4 | fieldIPv6 | fieldIPv6TCP

    /// Longest hash input: two IPv6 addresses and two ports.
    static let maxInput = 36

    /// table[p * 256 + v]: the hash contribution of byte value v at input position p.
    private let table: UnsafeMutablePointer<UInt32>
    /// The key the table was built from.
    private(set) var key: [UInt8]

    init(key: [UInt8]) {
        table = .allocate(capacity: Self.maxInput * 256)
        self.key = []
        rebuild(key: key)
    }

    /// Frees the table.
    func release() { table.deallocate() }

    /// Rebuilds the table for `key` (40 bytes) when it changed.
    mutating func rebuild(key newKey: [UInt8]) {
        guard newKey != key, newKey.count >= Self.keyLength else { return }
        key = newKey
        for p in 0..<Self.maxInput {
            var bitWindows = [UInt32](repeating: 0, count: 8)
            for b in 0..<8 { bitWindows[b] = Self.window(newKey, bit: p * 8 + b) }
            for v in 0..<256 {
                var h: UInt32 = 0
                for b in 0..<8 where v & (0x80 >> b) != 0 { h ^= bitWindows[b] }
                table[p * 256 + v] = h
            }
        }
    }

    /// The 32 key bits starting at bit `bit` (bit 0 = most significant bit of byte 0).
    private static func window(_ key: [UInt8], bit: Int) -> UInt32 {
        var w: UInt32 = 0
        for i in 0..<32 {
            let k = bit + i
            let byte = k / 8 < key.count ? key[k / 8] : 0
            w = (w << 1) | UInt32((byte >> (7 - UInt8(k % 8))) & 1)
        }
        return w
    }

    /// Hash contribution of `count` input bytes at `input`, placed at input position `position`
    /// (the hash of a split input is the XOR of the parts' contributions).
    @inline(__always)
    func hash(_ input: UnsafeRawPointer, count: Int, position: Int = 0) -> UInt32 {
        var h: UInt32 = 0
        var p = 0
        while p < count {
            h ^= table[(position &+ p) &* 256 &+ Int(input.load(fromByteOffset: p, as: UInt8.self))]
            p &+= 1
        }
        return h
    }

    /// Hash of bytes (tests).
    func hash(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBytes { hash($0.baseAddress!, count: bytes.count) }
    }
}
