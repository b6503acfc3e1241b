import ArgumentParser
import PCISysfs

/// `vfpmd sriov PF_ADDR --vfs N`: creates (or removes, with 0) the VFs of a PF.
struct SRIOVCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sriov",
        abstract: "Set the number of VFs of a PF (0 removes them).")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var sysfsOptions: SysfsOptions

    @Argument(help: "PCI address of the PF (0000:03:00.0 or 03:00.0).")
    var pf: String

    @Option(name: .long, help: "Number of VFs wanted.")
    var vfs: Int

    func validate() throws {
        guard vfs >= 0 else { throw ValidationError("--vfs must be 0 or more") }
    }

    func run() throws {
        global.bootstrapLogging()
        try reportingFailures { () throws(PCISysfsError) in
            let address = try PCIAddress.parse(pf)
            let discovery = DeviceDiscovery(sysfs: sysfsOptions.sysfs)
            let before = try DeviceBinder(sysfs: sysfsOptions.sysfs).setVFCount(address, to: vfs)
            print("\(address): \(before) -> \(vfs) VFs")
            for (index, vf) in discovery.virtualFunctions(of: address) {
                print("  VF \(index): \(vf) (\(discovery.driver(of: vf) ?? "no driver"))")
            }
        }
    }
}
