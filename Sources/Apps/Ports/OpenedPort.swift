import PMDCore
import PcapIO
import VFDriver

/// A port an app opened from a port spec, with the spec it came from, and the one way to close
/// ports that exchanged packets.
///
/// A `pci:` or `sim:` spec opens the driver's `VFPort` itself, with what stands behind it (the
/// VFIO device, the simulated VF and its wires) as its backing; a `pcap:` spec opens a
/// `PcapPort`. Nothing else wraps a port.
public final class OpenedPort: @unchecked Sendable {
    // @unchecked: `port` is used as its own rules say; `closed` is a mutex.

    /// The port.
    public let port: any Port
    /// The spec as the user gave it, for tables and messages.
    public let spec: String
    /// What the spec names (nil for a port the caller made itself).
    public let kind: PortSpec.Kind?
    private let closed = Locked(false)

    /// Wraps `port`, opened from `spec`.
    init(port: any Port, spec: PortSpec) {
        self.port = port
        self.spec = spec.text
        kind = spec.kind
    }

    /// Wraps a port the caller made itself (a port type of its own), named `name`.
    public init(port: any Port, name: String) {
        self.port = port
        spec = name
        kind = nil
    }

    /// Opens the port `spec` names; `number` is its position on the command line (it names
    /// a pcap port's MAC address). `lab` holds the simulated VFs of `sim:` specs. Throws a
    /// `PortOpenError` whose sentence is worded for the kind of port.
    public static func open(_ spec: PortSpec, number: Int = 0, lab: SimulatedLab = .shared) throws(PortOpenError) -> OpenedPort {
        do {
            let port: any Port = switch spec.kind {
            case let .pci(address, driver, noIOMMU):
                try VFIODeviceBacking.openPort(address: address, configuration: driver, name: spec.text, allowNoIOMMU: noIOMMU)
            case let .sim(settings, driver):
                try lab.open(settings, driver: driver, spec: spec.text)
            case let .pcap(settings):
                try PcapPort(name: spec.text, rxPath: settings.rxFile, txPath: settings.txFile,
                             loop: settings.loop, portNumber: UInt16(truncatingIfNeeded: number))
            }
            return OpenedPort(port: port, spec: spec)
        } catch {
            throw PortOpenError(spec: spec, error: error)
        }
    }

    /// Opens every spec in order; on a failure closes those already open and throws.
    public static func openAll(_ specs: [PortSpec], lab: SimulatedLab = .shared) throws(PortOpenError) -> [OpenedPort] {
        var opened: [OpenedPort] = []
        for (number, spec) in specs.enumerated() {
            do {
                opened.append(try open(spec, number: number, lab: lab))
            } catch {
                _ = closeAll(opened)
                throw error
            }
        }
        do {
            try lab.checkLinks()
        } catch {
            _ = closeAll(opened)
            let spec = specs.first { $0.text == error.spec } ?? specs[0]
            throw PortOpenError(spec: spec, error: error)
        }
        return opened
    }

    /// What the port can still do.
    public var condition: PortCondition { port.condition }

    /// Whether the port's device was removed.
    public var isRemoved: Bool { condition == .removed }

    /// Whether no packet will arrive on the port again: its finite input is played, or it failed.
    public var isInputExhausted: Bool {
        switch condition {
        case .running: false
        case .inputExhausted, .failed, .removed: true
        }
    }

    /// The sentence for an error of this port (a driver error worded for the kind of port).
    public func sentence(for error: any Error) -> String {
        PortOpenError(kind: kind, spec: spec, error: error).description
    }

    /// Closes ports that may hold each other's buffers (a packet received on one sits in
    /// another's transmit ring): first every port stops, giving back every buffer it holds,
    /// then every port closes, then each pool is checked. Returns one sentence per port whose
    /// pools are not whole; empty when all is well. Ports already closed are skipped.
    public static func closeAll(_ ports: [OpenedPort]) -> [String] {
        let open = ports.filter { p in p.closed.withLock { was in defer { was = true }; return !was } }
        open.forEach { $0.port.stop() }
        open.forEach { $0.port.close() }
        return open.compactMap { p in
            let held = p.port.buffersInUse
            return held == 0 ? nil : "\(p.spec): \(held) buffers were not returned to the port's pools"
        }
    }
}
