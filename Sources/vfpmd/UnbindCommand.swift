import ArgumentParser
import PCISysfs

/// `vfpmd unbind ADDR... [--driver NAME]`: gives devices back to a kernel driver.
struct UnbindCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unbind",
        abstract: "Give devices back to their kernel driver (ixgbevf, igbvf; ixgbe, igb for a PF).",
        discussion: "--driver NAME binds to NAME instead; --driver none leaves the device without a driver.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var sysfsOptions: SysfsOptions

    @Option(name: .long, help: "The driver to bind to (default: the family's kernel driver; 'none' for no driver).")
    var driver: String?

    @Argument(help: "PCI addresses (0000:03:10.0 or 03:10.0).")
    var addresses: [String]

    func run() throws {
        global.bootstrapLogging()
        let binder = DeviceBinder(sysfs: sysfsOptions.sysfs)
        var failed = false
        for text in addresses {
            do throws(PCISysfsError) {
                let address = try PCIAddress.parse(text)
                print(describe(address, try binder.unbind(address, to: driver)))
            } catch {
                printError(error.description)
                failed = true
            }
        }
        if failed { throw ExitCode.failure }
    }
}
