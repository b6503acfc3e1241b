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
    /// The PF refused a filter or mode; `remedy` says what the administrator can do.
    case refusedByPF(address: String, what: String, remedy: String)
    /// The device is gone (its registers read all ones).
    case deviceRemoved(address: String)
    /// The port is closed.
    case closed(address: String)
    /// A DMA region could not be mapped into the device's I/O address space.
    case dmaMapFailed(address: String, reason: String)

    public var description: String {
        switch self {
        case let .unsupportedDevice(address, vendor, device):
            return "\(address) is \(String(format4: vendor)):\(String(format4: device)), not a supported VF (ixgbevf: 8086:10ed, 1515, 1565, 15a8, 15c5; igbvf: 8086:10ca, 1520): pick a VF address from `vfpmd devices`"
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
        case let .refusedByPF(address, what, remedy):
            return "the PF refused \(what) for VF \(address): \(remedy)"
        case let .deviceRemoved(address):
            return "VF \(address) was removed (its registers read all ones): re-create the VF (`vfpmd sriov`) and restart"
        case let .closed(address):
            return "port \(address) is closed"
        case let .dmaMapFailed(address, reason):
            return "cannot map DMA memory for VF \(address): \(reason)"
        }
    }
}
