import ArgumentParser
import Foundation
import PCISysfs

/// Where the device commands find sysfs; hidden, for tests against a fake tree.
struct SysfsOptions: ParsableArguments {
    @Option(name: .customLong("sysfs-root"), help: .hidden)
    var root: String = "/sys"

    /// The tree to read and write.
    var sysfs: Sysfs { Sysfs(root: root) }
}

/// Runs `body`; a `PCISysfsError` becomes one line on standard error and exit status 1, with no
/// usage text (the command line was right, the machine was not).
func reportingFailures(_ body: () throws(PCISysfsError) -> Void) throws {
    do {
        try body()
    } catch {
        printError(error.description)
        throw ExitCode.failure
    }
}

/// Writes `error: message` to standard error.
func printError(_ message: String) {
    FileHandle.standardError.write(Data("error: \(message)\n".utf8))
}

/// Writes `warning: message` to standard error.
func printWarning(_ message: String) {
    FileHandle.standardError.write(Data("warning: \(message)\n".utf8))
}
