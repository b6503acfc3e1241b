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
func printError(_ text: String, terminator: String = "\n") {
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

extension PortOpeners {
    /// The openers of this executable: `pcap:` (PcapIO). The `sim:` and `pci:` openers are
    /// registered here when the simulator and the VFIO driver are linked.
    static var vfpmd: PortOpeners { PortOpeners.standard }
}

/// Parses and opens every port spec, in order; on a failure closes those already open and
/// throws the spec's own error sentence.
func openPorts(_ specs: [String]) throws -> [OpenedPort] {
    var opened: [OpenedPort] = []
    for (number, text) in specs.enumerated() {
        do {
            let spec = try PortSpec(parsing: text)
            let port = try PortOpeners.vfpmd.open(spec, portNumber: number)
            opened.append(OpenedPort(port: port, spec: text, close: {
                port.close()
                let held = port.buffersInUse
                return held == 0 ? [] : ["\(text): \(held) buffers were not returned to the port's pools"]
            }))
        } catch {
            opened.forEach { _ = $0.close() }
            throw CommandFailure("\(error)")
        }
    }
    return opened
}
