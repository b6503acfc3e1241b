import Apps
import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif

/// A command that failed with a sentence for the user: printed as `error: …` first on
/// standard error, then what the run did (its summary), exit status 1.
struct CommandFailure: Error, CustomStringConvertible {
    /// What went wrong and what to do.
    let description: String
    /// Printed after the error line: the summary of the run that failed.
    let details: String?

    init(_ description: String, then details: String? = nil) {
        self.description = description
        self.details = details
    }
}

/// Writes `text` to standard error as it is (tables, summaries).
func printToStandardError(_ text: String, terminator: String = "\n") {
    var line = text + terminator
    line.withUTF8 { bytes in
        var done = 0
        while done < bytes.count {
            let n = write(STDERR_FILENO, bytes.baseAddress! + done, bytes.count - done)
            if n <= 0 { if n < 0 && errno == EINTR { continue }; return }
            done += n
        }
    }
}

/// Parses and opens every port spec, in order, `pci:` and `sim:` ports in interrupt mode
/// unless `polling` is busy, `pci:` ports in no-IOMMU groups allowed when `noIOMMU`
/// (`--no-iommu`); on a failure closes those already open and throws the spec's own error
/// sentence.
func openPorts(_ specs: [String], polling: PollingPolicy = .busy, noIOMMU: Bool = false) throws -> [OpenedPort] {
    do {
        let parsed = try specs.map { text throws(PortSpecError) in
            try PortSpec(parsing: text).withInterrupts(polling.interruptSettings).allowingNoIOMMU(noIOMMU)
        }
        return try OpenedPort.openAll(parsed)
    } catch {
        throw CommandFailure("\(error)")
    }
}
