import PMDCore

/// Why a VF could not be driven; every case reads as one sentence saying what is wrong and
/// what to do.
public enum VFDriverError: Error, CustomStringConvertible, Equatable {
    /// The PCI function is not an ixgbevf or igbvf VF.
    case unsupportedDevice(address: String, vendorID: UInt16, deviceID: UInt16)
    /// A configuration value is out of range.
    case invalidConfiguration(String)
    /// The PF did not answer a mailbox message in time.
    case mailboxTimeout(address: String, message: String)
    /// The PF refused a mailbox message.
    case mailboxRefused(address: String, message: String)
    /// The PF never released the mailbox.
    case mailboxBusy(address: String)
    /// The PF reset itself while a message was in flight.
    case pfReset(address: String)
    /// The PF stayed in reset.
    case pfStillResetting(address: String)
    /// A queue did not report enabled (or disabled) in time.
    case queueDidNotRespond(address: String, queue: Int, direction: String, enabling: Bool)
    /// The PF refused a filter or mode; `reason` says why, so that an app can word what to
    /// change for the kind of port at hand.
    case refusedByPF(address: String, what: String, reason: PFRefusal)
    /// The device is gone (its registers read all ones).
    case deviceRemoved(address: String)
    /// The port is closed.
    case closed(address: String)
    /// A DMA region could not be mapped into the device's I/O address space.
    case dmaMapFailed(address: String, reason: String)
    /// Interrupt mode needs one MSI-X vector per RX queue and one for the mailbox.
    case tooFewInterruptVectors(address: String, queues: Int, vectors: Int)
    /// Interrupt mode cannot be set up on the function.
    case interruptsUnavailable(address: String, reason: String)

    public var description: String {
        switch self {
        case let .unsupportedDevice(address, vendor, device):
            return "\(address) is \(String(format4: vendor)):\(String(format4: device)), not a supported VF (\(IntelDevice.virtualFunctionIDList)): pick a VF address from `vfpmd devices`"
        case let .invalidConfiguration(text):
            return "invalid port configuration: \(text)"
        case let .mailboxTimeout(address, message):
            return "the PF did not answer \(message) from VF \(address) within 1 s: check that the PF driver is loaded and its link is up (`ip link show PF`)"
        case let .mailboxRefused(address, message):
            return "the PF refused \(message) from VF \(address): check the PF's settings for this VF (`ip link show PF`)"
        case let .mailboxBusy(address):
            return "the mailbox of VF \(address) stayed locked by the PF: reload the PF driver or reset the VF"
        case let .pfReset(address):
            return "the PF of VF \(address) reset itself during a request: the port re-initialises; retry"
        case let .pfStillResetting(address):
            return "the PF of VF \(address) is still resetting (or its interface is down): bring the PF up (`ip link set PF up`) and retry"
        case let .queueDidNotRespond(address, queue, direction, enabling):
            return "\(direction) queue \(queue) of VF \(address) did not \(enabling ? "enable" : "disable") within 10 ms: the PF may have disabled the VF (`ip link show PF`)"
        case let .refusedByPF(address, what, reason):
            return "the PF refused \(what) for VF \(address): \(reason)"
        case let .deviceRemoved(address):
            return "VF \(address) was removed (its registers read all ones): re-create the VF (`vfpmd sriov`) and restart"
        case let .closed(address):
            return "port \(address) is closed"
        case let .tooFewInterruptVectors(address, queues, vectors):
            return "interrupt mode needs \(queues + 1) MSI-X vectors on \(address) (one per queue and one for the mailbox) but it has \(vectors): use at most \(max(vectors - 1, 0)) queues or poll mode"
        case let .interruptsUnavailable(address, reason):
            return "interrupt mode cannot be used on \(address): \(reason); use poll mode"
        case let .dmaMapFailed(address, reason):
            return "cannot map DMA memory for VF \(address): \(reason)"
        }
    }
}

/// Why a PF refused a request. The cases an administrator can change are typed, so that each
/// app words the remedy for its kind of port (a command on the PF's host for a real VF, a port
/// spec setting for a simulated one); the rest are facts of the PF or the device.
public enum PFRefusal: Equatable, Sendable, CustomStringConvertible {
    /// The VF is not trusted: the PF capped or refused a receive mode. `promiscuous`: unicast
    /// promiscuous mode, which also needs the PF itself in promiscuous mode.
    case untrusted(promiscuous: Bool)
    /// The administrator fixed the VF's MAC address; `wanted` was asked for.
    case macFixed(wanted: MACAddress)
    /// The PF set a port VLAN for the VF (or runs DCB), so the VF has no VLAN filters.
    case portVLAN
    /// The 82599 has one frame limit for the PF and its VFs: the PF's MTU must be at least `mtu`.
    case sharedFrameLimit(mtu: Int)
    /// The administrator does not let the VF read the PF's RSS key and table.
    case rssQueryDisabled
    /// A limit of the PF driver or the device that no setting changes, with what to do instead.
    case limitation(String)

    /// The reason in words that hold for any kind of port.
    public var description: String {
        switch self {
        case .untrusted(let promiscuous):
            return promiscuous ? "the VF is not trusted by its PF (and the PF is not promiscuous itself)" : "the VF is not trusted by its PF"
        case .macFixed:
            return "the administrator fixed this VF's MAC address"
        case .portVLAN:
            return "the PF has set a port VLAN for this VF (or runs DCB)"
        case .sharedFrameLimit(let mtu):
            return "the 82599 shares one frame limit between PF and VFs, and the PF's MTU is below \(mtu)"
        case .rssQueryDisabled:
            return "the PF does not let this VF read its RSS configuration"
        case .limitation(let text):
            return text
        }
    }
}
