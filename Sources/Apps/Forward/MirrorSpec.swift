import PcapIO

/// Which frames of a port a mirror copies.
public enum MirrorDirection: String, Sendable, CaseIterable {
    /// The frames the port receives (as received).
    case rx
    /// The frames the forwarder hands the port to send (as they will be on the wire).
    case tx
    /// Both, each on its own interface of the file.
    case both

    /// Whether received frames are copied.
    public var copiesReceived: Bool { self != .tx }
    /// Whether sent frames are copied.
    public var copiesSent: Bool { self != .rx }
}

/// One `--mirror PORT[:rx|:tx|:both]=FILE.pcapng[,filter=BPF][,snaplen=N]`: a port's frames,
/// after an optional filter, copied to a pcapng file.
public struct MirrorSpec: Sendable {
    /// The text as given.
    public let text: String
    /// The port as named: its index among the ports (`0`, `1`, ...) or its `name=`.
    public let portName: String
    /// Which frames are copied (default: both directions).
    public let direction: MirrorDirection
    /// The pcapng file.
    public let path: String
    /// The libpcap filter expression; empty when every frame is copied.
    public let filter: String
    /// Bytes kept of each frame.
    public let snapLength: Int

    /// Largest snap length (tcpdump's).
    public static let maximumSnapLength = 262_144

    /// Parses `text`; the filter expression is compiled here, so a bad one is refused before
    /// any device is opened. The file is written as pcapng whatever its name (a FIFO, a device).
    public init(parsing text: String) throws(MirrorSpecError) {
        self.text = text
        guard let equals = text.firstIndex(of: "=") else { throw MirrorSpecError(text, "give PORT=FILE.pcapng") }
        let target = String(text[..<equals])
        var options = String(text[text.index(after: equals)...]).split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        // A comma belongs to the filter expression unless it starts another option.
        var parts: [String] = []
        for item in options {
            if parts.isEmpty || item.hasPrefix("filter=") || item.hasPrefix("snaplen=") {
                parts.append(item)
            } else {
                parts[parts.count - 1] += "," + item
            }
        }
        options = parts
        let file = options.removeFirst()
        guard !file.isEmpty else { throw MirrorSpecError(text, "the file name is empty; give PORT=FILE.pcapng") }
        path = file
        let portAndDirection = target.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        guard let port = portAndDirection.first, !port.isEmpty else {
            throw MirrorSpecError(text, "give the port's number (0, 1, ...) or its name= before the '='")
        }
        portName = port
        if portAndDirection.count == 2 {
            guard let direction = MirrorDirection(rawValue: portAndDirection[1]) else {
                throw MirrorSpecError(text, "the direction '\(portAndDirection[1])' is not rx, tx or both")
            }
            self.direction = direction
        } else {
            direction = .both
        }
        var filter = ""
        var snapLength = Self.maximumSnapLength
        var seen: Set<String> = []
        for option in options {
            let key = String(option.prefix { $0 != "=" })
            let value = String(option.dropFirst(key.count + 1))
            guard seen.insert(key).inserted else { throw MirrorSpecError(text, "\(key)= is given twice") }
            if key == "filter" {
                guard !value.isEmpty else { throw MirrorSpecError(text, "filter= is empty; give a libpcap expression or leave it out") }
                do { _ = try PacketFilter(expression: value) } catch {
                    throw MirrorSpecError(text, "\(error)")
                }
                filter = value
            } else {
                guard let n = Int(value), (1...Self.maximumSnapLength).contains(n) else {
                    throw MirrorSpecError(text, "snaplen=\(value) is not a whole number of bytes from 1 to \(Self.maximumSnapLength)")
                }
                snapLength = n
            }
        }
        self.filter = filter
        self.snapLength = snapLength
    }

    /// The index of the port the spec names among ports named `names` (each port's `name=`,
    /// nil when it has none); an index is taken as it is, checked against the count.
    public func portIndex(names: [String?]) throws(MirrorSpecError) -> Int {
        if let index = Int(portName) {
            guard names.indices.contains(index) else {
                throw MirrorSpecError(text, "there is no port \(index): the \(names.count) ports are numbered from 0 to \(names.count - 1)")
            }
            return index
        }
        guard let index = names.firstIndex(of: portName) else {
            throw MirrorSpecError(text, "no port is named '\(portName)'; give a port's number or the name= of its --port")
        }
        return index
    }
}

/// A `--mirror` that cannot work, in one sentence.
public struct MirrorSpecError: Error, CustomStringConvertible {
    /// The sentence.
    public let description: String

    init(_ text: String, _ problem: String) {
        description = "--mirror \(text): \(problem)"
    }
}

extension PortSpec {
    /// The `name=` the spec gives its port, if any (a simulated VF's).
    public var portName: String? {
        if case .sim(let settings, _) = kind { return settings.name }
        return nil
    }
}
