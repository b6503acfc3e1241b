import ArgumentParser
import PCISysfs

/// `vfpmd bind ADDR...`: takes VFs from their kernel driver and binds them to vfio-pci.
struct BindCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bind",
        abstract: "Bind VFs to vfio-pci so that vfpmd can drive them.",
        discussion: "A VF whose kernel interface is up is refused unless --force is given.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var sysfsOptions: SysfsOptions

    @Flag(name: .long, help: "Take the VF even if its kernel interface is up.")
    var force = false

    @Flag(name: .customLong("no-iommu"), help: "Allow a VF without IOMMU group: vfio-pci then puts it in a no-IOMMU group (unsafe; the kernel must allow it), which capture, forward and bench open only with --no-iommu.")
    var noIOMMU = false

    @Argument(help: "PCI addresses of the VFs (0000:03:10.0 or 03:10.0).")
    var addresses: [String]

    func run() throws {
        global.bootstrapLogging()
        let binder = DeviceBinder(sysfs: sysfsOptions.sysfs)
        if noIOMMU {
            printWarning("no-IOMMU mode: a VF bound without IOMMU can read and write all of this machine's memory")
        }
        var failed = false
        for text in addresses {
            do throws(PCISysfsError) {
                let address = try PCIAddress.parse(text)
                print(describe(address, try binder.bindToVFIO(address, force: force, noIOMMU: noIOMMU)))
                let blocking = binder.groupMembersBlocking(address)
                if !blocking.isEmpty {
                    printWarning("the IOMMU group of \(address) also holds " + blocking.map(\.description).joined(separator: ", ")
                        + ": bind those to vfio-pci too, or the group cannot be opened")
                }
            } catch {
                printError(error.description)
                failed = true
            }
        }
        if failed { throw ExitCode.failure }
    }
}

/// `0000:03:10.0: ixgbevf -> vfio-pci`, or that nothing changed.
func describe(_ address: PCIAddress, _ outcome: DeviceBinder.Outcome) -> String {
    switch outcome {
    case let .unchanged(driver):
        return "\(address): already bound to \(driver ?? "no driver")"
    case let .moved(from, to):
        return "\(address): \(from ?? "no driver") -> \(to ?? "no driver")"
    }
}
