import PCISysfs
import PMDCore
import VFDriver
import VFIO

/// What stands behind the driver's port on a real VF: the VFIO device, closed once the driver
/// has reset the VF and unmapped its memory.
final class VFIODeviceBacking: VFPortBacking, Sendable {
    /// The VFIO device.
    let device: VFIODevice

    private init(_ device: VFIODevice) { self.device = device }

    /// Opens the VF at `address` through VFIO (in the process's one container) and brings the
    /// driver up on it.
    static func openPort(address: PCIAddress, configuration: VFPortConfiguration, name: String) throws -> VFPort {
        // The device first: a wrong address or a VF still on its kernel driver is the sentence
        // the user needs, before anything about the VFIO container.
        _ = try VFIOPreflight.check(address, sysfs: Sysfs(), noIOMMU: false)
        let container = try VFIOContainer.shared()
        let device = try VFIODevice.open(address: address.description, container: container)
        do {
            return try VFPort(function: device, configuration: configuration, name: name, backing: VFIODeviceBacking(device))
        } catch {
            device.close()
            throw error
        }
    }

    /// A real VF's input never runs out.
    var isInputExhausted: Bool { false }

    func portWillStop() {}

    func portDidClose() { device.close() }

    /// A VFIO device reports its troubles through the driver.
    var failure: String? { nil }

    /// A real VF has no register for its PF's filter drops.
    var filterDrops: FilterDrops { FilterDrops() }
}
