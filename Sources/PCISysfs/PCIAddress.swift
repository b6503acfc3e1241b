/// A PCI function's address in the canonical sysfs form `DDDD:BB:DD.F` (domain, bus, device,
/// function; lowercase hex). A bare `BB:DD.F`, as `lspci` prints it, means domain 0000.
public struct PCIAddress: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// PCI segment (domain); 16 bits on most machines, wider behind some bridges (VMD).
    public let domain: UInt32
    /// Bus number, 0...255.
    public let bus: UInt8
    /// Device (slot) number, 0...31.
    public let device: UInt8
    /// Function number, 0...7.
    public let function: UInt8

    /// An address from its parts; nil when a part is out of range.
    public init?(domain: UInt32 = 0, bus: UInt8, device: UInt8, function: UInt8) {
        guard device < 32, function < 8 else { return nil }
        self.domain = domain
        self.bus = bus
        self.device = device
        self.function = function
    }

    /// Parses `DDDD:BB:DD.F` or `BB:DD.F` (hex digits, either case); nil when malformed.
    public init?(_ text: String) {
        let trimmed = text.trimmingWhitespace()
        let colonParts = trimmed.split(separator: ":", omittingEmptySubsequences: false)
        let domainText: Substring
        let busText: Substring
        let slotText: Substring
        switch colonParts.count {
        case 2: (domainText, busText, slotText) = ("0", colonParts[0], colonParts[1])
        case 3: (domainText, busText, slotText) = (colonParts[0], colonParts[1], colonParts[2])
        default: return nil
        }
        let slotParts = slotText.split(separator: ".", omittingEmptySubsequences: false)
        guard slotParts.count == 2,
              (1...8).contains(domainText.count), (1...2).contains(busText.count),
              (1...2).contains(slotParts[0].count), slotParts[1].count == 1,
              let domain = UInt32(domainText, radix: 16),
              let bus = UInt8(busText, radix: 16),
              let device = UInt8(slotParts[0], radix: 16),
              let function = UInt8(slotParts[1], radix: 16)
        else { return nil }
        self.init(domain: domain, bus: bus, device: device, function: function)
    }

    /// Parses `text` or throws the error that says what a PCI address looks like.
    public static func parse(_ text: String) throws(PCISysfsError) -> PCIAddress {
        guard let address = PCIAddress(text) else { throw .malformedAddress(text) }
        return address
    }

    /// `0000:03:10.0`.
    public var description: String {
        hex(domain, width: 4) + ":" + hex(UInt32(bus), width: 2) + ":" + hex(UInt32(device), width: 2)
            + "." + String(function, radix: 16)
    }

    /// Address order: domain, bus, device, function.
    public static func < (a: PCIAddress, b: PCIAddress) -> Bool {
        (a.domain, a.bus, a.device, a.function) < (b.domain, b.bus, b.device, b.function)
    }
}

private func hex(_ value: UInt32, width: Int) -> String {
    let digits = String(value, radix: 16)
    return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
}

extension String {
    /// The string without leading and trailing spaces, tabs and newlines.
    func trimmingWhitespace() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\r" }
        guard let first = firstIndex(where: { !isSpace($0) }),
              let last = lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(self[first...last])
    }
}
