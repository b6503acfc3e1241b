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
    /// driver up on it. A VF in a no-IOMMU group is opened only when `allowNoIOMMU` (the user's
    /// `--no-iommu` or `noiommu=on`): then the container is of the no-IOMMU type, every DMA
    /// region is hugepages, the device is given physical addresses, and one warning line says
    /// so once the port is up (after any refusal, whose error line comes first).
    static func openPort(address: PCIAddress, configuration: VFPortConfiguration, name: String, allowNoIOMMU: Bool) throws -> VFPort {
        // The device first: a wrong address, a VF still on its kernel driver or a no-IOMMU group
        // without consent is the sentence the user needs, before anything about the container.
        let sysfs = Sysfs()
        let noIOMMU = try VFIOPreflight.check(address, sysfs: sysfs, noIOMMU: allowNoIOMMU).record.inNoIOMMUGroup
        let container = try VFIOContainer.shared(mode: noIOMMU ? .noIOMMU : .iommu)
        let device = try VFIODevice.open(address: address.description, container: container)
        var configuration = configuration
        if noIOMMU { configuration.pages = .requireHugepages }
        do {
            let port = try VFPort(function: device, configuration: configuration, name: name, backing: VFIODeviceBacking(device))
            if noIOMMU {
                appsLog.warning("\(address): NO-IOMMU MODE: this VF can read and write all of the machine's memory (no IOMMU checks its DMA addresses) and the kernel is now tainted; use it only where no IOMMU can be had")
            }
            return port
        } catch {
            device.close()
            if noIOMMU, case .noHugepages? = error as? DMAMemoryError { throw VFIOError.noIOMMUNeedsHugepages }
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
