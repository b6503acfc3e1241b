import PCISysfs
import PMDCore
import VFDriver
import VFSimulator

/// A port spec that does not parse: the spec, the part that is wrong, why, and what is allowed.
public struct PortSpecError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The spec as given.
    public let spec: String
    /// Characters of `spec` before the bad part.
    public let offset: Int
    /// Characters in the bad part (at least 1 for the caret line).
    public let length: Int
    /// What is wrong.
    public let problem: String
    /// What would be accepted there.
    public let allowed: String

    /// Four lines: the problem, the spec, carets under the bad part, what is allowed.
    public var description: String {
        "bad port spec: \(problem)\n"
            + "  \(spec)\n"
            + "  " + String(repeating: " ", count: offset) + String(repeating: "^", count: max(1, length)) + "\n"
            + "  \(allowed)"
    }
}

extension PortSpec {
    /// What every kind of spec looks like, for errors.
    public static let grammar = """
        pci:ADDR[,queues=N][,rxd=N][,txd=N][,mtu=N][,promisc=on][,allmulti=on][,vlan=ID][,mac=MAC][,noiommu=on], \
        a bare PCI address (0000:01:10.0), \
        sim:ixgbevf|x550vf|igbvf[,name=NAME][,rx=FILE][,loop=N][,pause=on|off][,tx=FILE][,link=NAME]\
        [,spoofchk=on|off][,trust=on|off][,mac=MAC] and the pci: driver options, \
        pcap:rx=FILE[,tx=FILE][,loop=N]
        """

    /// The driver's settings, shared by `pci:` and `sim:` specs, with the ranges the driver accepts.
    static let driverOptions: String = {
        let rings = VFPortConfiguration.descriptorRange, mtu = VFPortConfiguration.mtuRange, vlan = VFPortConfiguration.vlanRange
        return "queues=N (1-\(VFPortConfiguration.maxQueues)), rxd=N and txd=N (\(rings.lowerBound)-\(rings.upperBound), "
            + "multiples of \(VFPortConfiguration.descriptorMultiple)), mtu=N (\(mtu.lowerBound)-\(mtu.upperBound)), "
            + "promisc=on|off, allmulti=on|off, vlan=ID (\(vlan.lowerBound)-\(vlan.upperBound))"
    }()
    static let pciOptions = "pci options: " + driverOptions + ", mac=MAC (unicast), noiommu=on|off (allow a VF in a no-IOMMU group; unsafe)"
    static let simOptions = "sim options: name=NAME, rx=FILE, loop=N (0 = forever), pause=on|off (flow control on the rx= wire, default on), "
        + "tx=FILE, link=NAME, spoofchk=on|off, trust=on|off, mac=MAC (unicast); and the driver's: " + driverOptions
    static let pcapOptions = "pcap options: rx=FILE, tx=FILE (at least one), loop=N (0 = forever, needs rx)"

    /// Parses `text`; throws a `PortSpecError` pointing at the first bad part.
    public init(parsing text: String) throws(PortSpecError) {
        var parser = PortSpecParser(text: text)
        kind = try parser.parse()
        self.text = text
    }
}

/// The parser behind `PortSpec(parsing:)`: splits at commas, remembering where each part starts.
struct PortSpecParser {
    struct Part {
        var text: Substring
        var offset: Int
    }

    let text: String
    var parts: [Part] = []

    init(text: String) {
        self.text = text
        var offset = 0
        for piece in text.split(separator: ",", omittingEmptySubsequences: false) {
            parts.append(Part(text: piece, offset: offset))
            offset += piece.count + 1
        }
    }

    func error(_ problem: String, at offset: Int, length: Int, allowed: String) -> PortSpecError {
        PortSpecError(spec: text, offset: offset, length: length, problem: problem, allowed: allowed)
    }

    mutating func parse() throws(PortSpecError) -> PortSpec.Kind {
        guard !text.isEmpty else {
            throw error("the spec is empty", at: 0, length: 1, allowed: "a port spec is one of: " + PortSpec.grammar)
        }
        let head = parts[0]
        if head.text.hasPrefix("pci:") {
            return try parsePCI(addressText: head.text.dropFirst(4), addressOffset: 4)
        }
        if head.text.hasPrefix("sim:") { return try parseSim() }
        if head.text.hasPrefix("pcap:") { return try parsePcap() }
        if PCIAddress(String(head.text)) != nil { return try parsePCI(addressText: head.text, addressOffset: 0) }
        if let colon = head.text.firstIndex(of: ":"), head.text[..<colon].allSatisfy(\.isLetter) {
            let kind = head.text[..<colon]
            throw error("unknown port kind '\(kind)'", at: 0, length: kind.count,
                        allowed: "a port spec is one of: " + PortSpec.grammar)
        }
        throw error("'\(head.text)' is neither a PCI address nor a kind:settings spec", at: 0, length: head.text.count,
                    allowed: "a port spec is one of: " + PortSpec.grammar)
    }

    // MARK: the three kinds

    func parsePCI(addressText: Substring, addressOffset: Int) throws(PortSpecError) -> PortSpec.Kind {
        guard let address = PCIAddress(String(addressText)) else {
            throw error("'\(addressText)' is not a PCI address", at: addressOffset, length: addressText.count,
                        allowed: "a PCI address is DDDD:BB:DD.F or BB:DD.F in hexadecimal, as lspci -D prints it (0000:01:10.0)")
        }
        var driver = VFPortConfiguration()
        var noIOMMU = false
        let allowed = PortSpec.pciOptions
        for option in try options(from: 1, allowed: allowed, keys: Self.driverKeys + ["mac", "noiommu"]) {
            switch option.key {
            case "mac": driver.mac = try mac(option, allowed: allowed)
            case "noiommu": noIOMMU = try onOff(option, allowed: allowed)
            default: try apply(option, to: &driver, allowed: allowed)
            }
        }
        return .pci(address: address, driver: driver, noIOMMU: noIOMMU)
    }

    func parseSim() throws(PortSpecError) -> PortSpec.Kind {
        let familyText = parts[0].text.dropFirst(4)
        let families = SimulatedVFSettings.familyNames.map(\.name).joined(separator: ", ")
        guard let family = SimulatedVFSettings.familyNames.first(where: { $0.name == familyText })?.family else {
            throw error(familyText.isEmpty ? "the simulated VF family is missing" : "unknown simulated VF family '\(familyText)'",
                        at: 4, length: familyText.count, allowed: "families: \(families)")
        }
        var settings = SimulatedVFSettings(family: family)
        var driver = SimulatedVFSettings.driverDefaults
        let allowed = PortSpec.simOptions
        let list = try options(from: 1, allowed: allowed,
                               keys: ["name", "rx", "loop", "pause", "tx", "link", "spoofchk", "trust", "mac"] + Self.driverKeys)
        for option in list {
            switch option.key {
            case "name": settings.name = try identifier(option, allowed: allowed)
            case "rx": settings.rxFile = try file(option, allowed: allowed)
            case "loop": settings.loop = try integer(option, in: 0...Int(Int32.max), allowed: allowed)
            case "tx": settings.txFile = try file(option, allowed: allowed)
            case "link": settings.link = try identifier(option, allowed: allowed)
            case "spoofchk": settings.spoofCheck = try onOff(option, allowed: allowed)
            case "trust": settings.trusted = try onOff(option, allowed: allowed)
            case "pause": settings.pause = try onOff(option, allowed: allowed)
            case "mac": settings.mac = try mac(option, allowed: allowed)
            default: try apply(option, to: &driver, allowed: allowed)
            }
        }
        if let loop = list.first(where: { $0.key == "loop" }), settings.rxFile == nil {
            throw error("loop= repeats the rx= capture, and there is none", at: loop.offset, length: loop.length, allowed: allowed)
        }
        return .sim(settings, driver: driver)
    }

    /// The keys of the driver's own settings.
    static let driverKeys = ["queues", "rxd", "txd", "mtu", "promisc", "allmulti", "vlan"]

    /// Sets the driver's setting `option` (one of `driverKeys`), in the ranges the driver accepts.
    func apply(_ option: Option, to driver: inout VFPortConfiguration, allowed: String) throws(PortSpecError) {
        switch option.key {
        case "queues": driver.queues = try integer(option, in: 1...VFPortConfiguration.maxQueues, allowed: allowed)
        case "rxd": driver.rxDescriptors = try descriptorCount(option, allowed: allowed)
        case "txd": driver.txDescriptors = try descriptorCount(option, allowed: allowed)
        case "mtu": driver.mtu = try integer(option, in: VFPortConfiguration.mtuRange, allowed: allowed)
        case "promisc": driver.promiscuous = try onOff(option, allowed: allowed)
        case "allmulti": driver.allMulticast = try onOff(option, allowed: allowed)
        default:
            let range = VFPortConfiguration.vlanRange
            driver.vlanIDs = [UInt16(try integer(option, in: Int(range.lowerBound)...Int(range.upperBound), allowed: allowed))]
        }
    }

    mutating func parsePcap() throws(PortSpecError) -> PortSpec.Kind {
        // The first option follows the colon: "pcap:rx=FILE".
        parts[0] = Part(text: parts[0].text.dropFirst(5), offset: 5)
        let allowed = PortSpec.pcapOptions
        if parts[0].text.isEmpty && parts.count == 1 {
            throw error("a pcap port needs rx=FILE, tx=FILE or both", at: 5, length: 1, allowed: allowed)
        }
        var settings = PcapPortSettings()
        let list = try options(from: 0, allowed: allowed, keys: ["rx", "tx", "loop"])
        for option in list {
            switch option.key {
            case "rx": settings.rxFile = try file(option, allowed: allowed)
            case "tx": settings.txFile = try file(option, allowed: allowed)
            default: settings.loop = try integer(option, in: 0...Int(Int32.max), allowed: allowed)
            }
        }
        if let loop = list.first(where: { $0.key == "loop" }), settings.rxFile == nil {
            throw error("loop= repeats the rx= capture, and there is none", at: loop.offset, length: loop.length, allowed: allowed)
        }
        if settings.rxFile == nil && settings.txFile == nil {
            throw error("a pcap port needs rx=FILE, tx=FILE or both", at: 5, length: text.count - 5, allowed: allowed)
        }
        return .pcap(settings)
    }

    // MARK: options

    struct Option {
        var key: String
        var value: Substring
        var offset: Int
        var length: Int
        var valueOffset: Int
    }

    func options(from first: Int, allowed: String, keys: [String]) throws(PortSpecError) -> [Option] {
        var seen: [String: Int] = [:]
        var list: [Option] = []
        for part in parts.dropFirst(first) {
            guard let equals = part.text.firstIndex(of: "=") else {
                throw error(part.text.isEmpty ? "empty setting (two commas, or a comma at the end)" : "'\(part.text)' is not KEY=VALUE",
                            at: part.offset, length: part.text.count, allowed: allowed)
            }
            let key = String(part.text[..<equals])
            guard keys.contains(key) else {
                throw error("unknown setting '\(key)'", at: part.offset, length: key.count, allowed: allowed)
            }
            if seen[key] != nil {
                throw error("'\(key)' is given twice", at: part.offset, length: part.text.count, allowed: allowed)
            }
            seen[key] = part.offset
            list.append(Option(key: key, value: part.text[part.text.index(after: equals)...], offset: part.offset,
                               length: part.text.count, valueOffset: part.offset + key.count + 1))
        }
        return list
    }

    func bad(_ option: Option, _ what: String, allowed: String) -> PortSpecError {
        error("\(option.key)=\(option.value): \(what)", at: option.valueOffset, length: max(1, option.value.count), allowed: allowed)
    }

    func integer(_ option: Option, in range: ClosedRange<Int>, allowed: String) throws(PortSpecError) -> Int {
        guard let value = Int(option.value), range.contains(value) else {
            throw bad(option, "\(option.key) must be a whole number from \(range.lowerBound) to \(range.upperBound)", allowed: allowed)
        }
        return value
    }

    func descriptorCount(_ option: Option, allowed: String) throws(PortSpecError) -> Int {
        guard let value = Int(option.value), VFPortConfiguration.isValidRingLength(value) else {
            let range = VFPortConfiguration.descriptorRange
            throw bad(option, "\(option.key) must be a multiple of \(VFPortConfiguration.descriptorMultiple) from \(range.lowerBound) to \(range.upperBound)", allowed: allowed)
        }
        return value
    }

    func onOff(_ option: Option, allowed: String) throws(PortSpecError) -> Bool {
        switch option.value {
        case "on": return true
        case "off": return false
        default: throw bad(option, "\(option.key) must be on or off", allowed: allowed)
        }
    }

    func mac(_ option: Option, allowed: String) throws(PortSpecError) -> MACAddress {
        guard let mac = MACAddress(String(option.value)) else {
            throw bad(option, "not a MAC address (six hexadecimal pairs, 02:00:00:00:00:01)", allowed: allowed)
        }
        guard !mac.isMulticast, !mac.isZero else {
            throw bad(option, "a port's MAC address must be unicast and not all zeros", allowed: allowed)
        }
        return mac
    }

    func file(_ option: Option, allowed: String) throws(PortSpecError) -> String {
        guard !option.value.isEmpty else { throw bad(option, "the file name is missing", allowed: allowed) }
        return String(option.value)
    }

    func identifier(_ option: Option, allowed: String) throws(PortSpecError) -> String {
        guard !option.value.isEmpty,
              option.value.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else {
            throw bad(option, "a name is letters, digits, '-' and '_'", allowed: allowed)
        }
        return String(option.value)
    }
}
