import ArgumentParser

/// `vfpmd version`: the program's version.
struct VersionCommand: ParsableCommand {
    static let version = "0.1.0"
    static let configuration = CommandConfiguration(commandName: "version", abstract: "Print the version.")

    @OptionGroup var global: GlobalOptions

    func run() {
        print("vfpmd \(Self.version)")
    }
}
