import PMDCore
import VFDriver

/// A port that could not be opened, or a port's error later on, as one sentence worded for the
/// kind of port: a PF's refusal names what to change on the PF's host for a `pci:` port and
/// in the spec for a `sim:` port (whose PF is the simulator's).
public struct PortOpenError: Error, CustomStringConvertible {
    /// The spec as the user gave it.
    public let spec: String
    /// What the spec names (nil: a port the caller made itself).
    public let kind: PortSpec.Kind?
    /// The error of the layer that failed (VFIO, the driver, the simulator, the pcap files).
    public let error: any Error

    /// The error `error` of the port `spec` names.
    public init(spec: PortSpec, error: any Error) {
        self.init(kind: spec.kind, spec: spec.text, error: error)
    }

    /// The error `error` of a port of `kind` opened from `spec`.
    public init(kind: PortSpec.Kind?, spec: String, error: any Error) {
        self.spec = spec
        self.kind = kind
        self.error = error
    }

    public var description: String {
        guard let driverError = error as? VFDriverError else {
            // VFIO's and the pcap files' sentences name the device or the file themselves.
            if case .sim = kind, !(error is SimulatedPortError) { return "\(spec): \(error)" }
            return "\(error)"
        }
        var sentence = driverError.description
        if case let .refusedByPF(_, _, reason) = driverError, let remedy = remedy(for: reason) {
            sentence += ": " + remedy
        }
        if case .sim = kind { return "\(spec): \(sentence)" }
        return sentence
    }

    /// What to change so that the PF grants the request, for this kind of port; nil when no
    /// setting changes it (the reason says what to do instead).
    func remedy(for reason: PFRefusal) -> String? {
        switch kind {
        case .pci: Self.hostRemedy(for: reason)
        case .sim: Self.specRemedy(for: reason)
        case .pcap, nil: nil
        }
    }

    /// The `ip link` command on the PF's host (Linux's ixgbe and igb PF drivers).
    static func hostRemedy(for reason: PFRefusal) -> String? {
        switch reason {
        case .untrusted(let promiscuous):
            let trust = "allow it with `ip link set <PF> vf <N> trust on`"
            return promiscuous ? trust + " and put the PF itself in promiscuous mode (`ip link set <PF> promisc on`)" : trust
        case .macFixed(let wanted):
            return "set it with `ip link set <PF> vf <N> mac \(wanted)` or allow changes with `ip link set <PF> vf <N> trust on`"
        case .portVLAN:
            return "clear the port VLAN with `ip link set <PF> vf <N> vlan 0`"
        case .sharedFrameLimit(let mtu):
            return "raise the PF's MTU first (`ip link set <PF> mtu \(mtu)`)"
        case .rssQueryDisabled:
            return "allow it with `ip link set <PF> vf <N> query_rss on`"
        case .limitation:
            return nil
        }
    }

    /// The `sim:` spec settings that make the simulated PF grant the request.
    static func specRemedy(for reason: PFRefusal) -> String? {
        switch reason {
        case .untrusted:
            return "add trust=on to the spec (the simulated PF trusts the VF then)"
        case .macFixed(let wanted):
            return "give the PF's MAC with mac=\(wanted) or add trust=on to the spec"
        case .portVLAN, .sharedFrameLimit, .rssQueryDisabled, .limitation:
            return nil
        }
    }
}
