import PCISysfs
import PMDCore
import VFDriver
import VFIO

/// A port on a real VF: the driver on a VFIO device of the process's one container.
public final class PCIPort: DriverPortHandle, @unchecked Sendable {
    /// The VFIO device.
    public let device: VFIODevice

    /// Opens the VF `settings.address` through VFIO and brings the driver up on it.
    public init(_ settings: PCIPortSettings, spec: String) throws {
        // The device first: a wrong address or a VF still on its kernel driver is the sentence
        // the user needs, before anything about the VFIO container.
        _ = try VFIOPreflight.check(settings.address, sysfs: Sysfs(), noIOMMU: false)
        let container = try VFIOContainer.shared()
        device = try VFIODevice.open(address: settings.address.description, container: container)
        var config = VFPortConfiguration()
        if let q = settings.queues { config.queues = q }
        if let n = settings.rxDescriptors { config.rxDescriptors = n }
        if let n = settings.txDescriptors { config.txDescriptors = n }
        if let mtu = settings.mtu { config.mtu = mtu }
        config.promiscuous = settings.promiscuous
        config.allMulticast = settings.allMulticast
        config.vlanIDs = settings.vlan.map { [$0] } ?? []
        config.mac = settings.mac
        do {
            super.init(try VFPort(function: device, configuration: config, name: spec))
        } catch {
            device.close()
            throw error
        }
    }

    /// Closes the driver's port (which unmaps its memory), then the VFIO device.
    override func release() {
        driverPort.close()
        device.close()
    }
}
