import Apps
import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif

/// A command that failed with a sentence for the user: printed as is, exit status 1.
struct CommandFailure: Error, CustomStringConvertible {
    /// What went wrong and what to do.
    let description: String

    init(_ description: String) { self.description = description }
}

/// Writes a line to standard error.
func printError(_ text: String) {
    var line = text + "\n"
    line.withUTF8 { bytes in
        var done = 0
        while done < bytes.count {
            let n = write(STDERR_FILENO, bytes.baseAddress! + done, bytes.count - done)
            if n <= 0 { if n < 0 && errno == EINTR { continue }; return }
            done += n
        }
    }
}

extension PortOpeners {
    /// The openers of this executable: `pcap:` (PcapIO). The `sim:` and `pci:` openers are
    /// registered here when the simulator and the VFIO driver are linked.
    static var vfpmd: PortOpeners { PortOpeners.standard }
}
