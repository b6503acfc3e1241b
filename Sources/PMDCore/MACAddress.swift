/// A 48-bit Ethernet address.
@frozen
public struct MACAddress: Hashable, Sendable, CustomStringConvertible {
    /// The six bytes in wire order.
    public var bytes: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8)

    /// An address from six bytes in wire order.
    @inlinable
    public init(_ b0: UInt8, _ b1: UInt8, _ b2: UInt8, _ b3: UInt8, _ b4: UInt8, _ b5: UInt8) {
        bytes = (b0, b1, b2, b3, b4, b5)
    }

    /// Parses `aa:bb:cc:dd:ee:ff` (or with `-`); nil when malformed.
    public init?(_ text: String) {
        let parts = text.split(separator: text.contains("-") ? "-" : ":", omittingEmptySubsequences: false)
        guard parts.count == 6 else { return nil }
        var b = [UInt8]()
        for p in parts {
            guard p.count == 2, let v = UInt8(p, radix: 16) else { return nil }
            b.append(v)
        }
        self.init(b[0], b[1], b[2], b[3], b[4], b[5])
    }

    /// Reads six bytes at `pointer`.
    @inlinable
    public init(loadingFrom pointer: UnsafeRawPointer) {
        self.init(pointer.load(as: UInt8.self), pointer.load(fromByteOffset: 1, as: UInt8.self),
                  pointer.load(fromByteOffset: 2, as: UInt8.self), pointer.load(fromByteOffset: 3, as: UInt8.self),
                  pointer.load(fromByteOffset: 4, as: UInt8.self), pointer.load(fromByteOffset: 5, as: UInt8.self))
    }

    /// Writes the six bytes at `pointer`.
    @inlinable
    public func store(to pointer: UnsafeMutableRawPointer) {
        pointer.storeBytes(of: bytes.0, toByteOffset: 0, as: UInt8.self)
        pointer.storeBytes(of: bytes.1, toByteOffset: 1, as: UInt8.self)
        pointer.storeBytes(of: bytes.2, toByteOffset: 2, as: UInt8.self)
        pointer.storeBytes(of: bytes.3, toByteOffset: 3, as: UInt8.self)
        pointer.storeBytes(of: bytes.4, toByteOffset: 4, as: UInt8.self)
        pointer.storeBytes(of: bytes.5, toByteOffset: 5, as: UInt8.self)
    }

    /// The bytes as an array.
    public var array: [UInt8] { [bytes.0, bytes.1, bytes.2, bytes.3, bytes.4, bytes.5] }

    /// ff:ff:ff:ff:ff:ff.
    public static let broadcast = MACAddress(0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF)
    /// 00:00:00:00:00:00.
    public static let zero = MACAddress(0, 0, 0, 0, 0, 0)

    /// Group (multicast or broadcast) address.
    public var isMulticast: Bool { bytes.0 & 1 != 0 }
    /// All zeros.
    public var isZero: Bool { self == .zero }
    /// Locally administered bit set.
    public var isLocallyAdministered: Bool { bytes.0 & 2 != 0 }

    /// A random unicast, locally administered address.
    public static func randomLocal() -> MACAddress {
        var g = SystemRandomNumberGenerator()
        let r = (0..<6).map { _ in UInt8.random(in: 0...255, using: &g) }
        return MACAddress((r[0] & 0xFE) | 0x02, r[1], r[2], r[3], r[4], r[5])
    }

    public var description: String {
        array.map { let h = String($0, radix: 16); return h.count == 1 ? "0" + h : h }.joined(separator: ":")
    }

    public static func == (a: MACAddress, b: MACAddress) -> Bool { a.array == b.array }
    public func hash(into hasher: inout Hasher) { hasher.combine(array) }
}
