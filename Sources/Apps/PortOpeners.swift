import PMDCore
import PcapIO

/// The seam where each kind of port spec gets its opener: the apps open ports through it and
/// never name a port type.
///
/// `PortOpeners.standard` opens `pcap:` ports. The `vfpmd` executable registers the openers of
/// the modules it links (`sim:` from the simulator, `pci:` from the driver over VFIO) before
/// running a command; a kind with no opener is a clear error naming what this build lacks.
public struct PortOpeners: Sendable {
    /// Opens the port a spec names; `portNumber` is its position on the command line.
    public typealias Opener = @Sendable (_ spec: PortSpec, _ portNumber: Int) throws -> any Port

    private var openers: [String: Opener] = [:]

    /// No opener at all.
    public init() {}

    /// The openers of the modules Apps depends on: `pcap:`.
    public static var standard: PortOpeners {
        var openers = PortOpeners()
        openers.register(kind: "pcap") { spec, number in
            guard case .pcap(let settings) = spec.kind else { throw PortOpenError.wrongKind(spec: spec.text) }
            return try PcapPort(name: spec.text, rxPath: settings.rxFile, txPath: settings.txFile,
                                loop: settings.loop, portNumber: UInt16(truncatingIfNeeded: number))
        }
        return openers
    }

    /// Sets the opener of `kind` ("pci", "sim", "pcap"), replacing any before.
    public mutating func register(kind: String, _ opener: @escaping Opener) {
        openers[kind] = opener
    }

    /// The kinds with an opener.
    public var kinds: [String] { openers.keys.sorted() }

    /// Opens the port `spec` names.
    public func open(_ spec: PortSpec, portNumber: Int = 0) throws -> any Port {
        guard let opener = openers[spec.kindName] else {
            throw PortOpenError.kindNotAvailable(spec: spec.text, kind: spec.kindName, available: kinds)
        }
        return try opener(spec, portNumber)
    }
}

/// Why a port could not be opened before its own module was asked.
public enum PortOpenError: Error, Equatable, CustomStringConvertible {
    /// No opener is registered for the spec's kind.
    case kindNotAvailable(spec: String, kind: String, available: [String])
    /// An opener was handed a spec of another kind.
    case wrongKind(spec: String)

    public var description: String {
        switch self {
        case let .kindNotAvailable(spec, kind, available):
            return "\(spec): this build of vfpmd cannot open \(kind): ports; it opens "
                + available.map { "\($0):" }.joined(separator: ", ") + " ports"
        case let .wrongKind(spec):
            return "\(spec): the port opener was given a spec of another kind"
        }
    }
}
