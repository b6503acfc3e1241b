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
    /// The openers of this executable: `pcap:` (PcapIO), `sim:` (the driver on simulated VFs)
    /// and `pci:` (the driver on real VFs through VFIO).
    static var vfpmd: PortOpeners {
        var openers = PortOpeners.standard
        openers.register(kind: "pci") { spec, _ in
            guard case .pci(let settings) = spec.kind else { throw PortOpenError.wrongKind(spec: spec.text) }
            return try PCIPort(settings, spec: spec.text)
        }
        openers.register(kind: "sim") { spec, number in
            guard case .sim(let settings) = spec.kind else { throw PortOpenError.wrongKind(spec: spec.text) }
            return try SimulatedLab.shared.open(settings, spec: spec.text, portNumber: number)
        }
        return openers
    }
}

/// Parses and opens every port spec, in order; on a failure closes those already open and
/// throws the spec's own error sentence.
func openPorts(_ specs: [String]) throws -> [OpenedPort] {
    var opened: [OpenedPort] = []
    for (number, text) in specs.enumerated() {
        do {
            let spec = try PortSpec(parsing: text)
            let port = try PortOpeners.vfpmd.open(spec, portNumber: number)
            opened.append(OpenedPort(port: port, spec: text))
        } catch {
            _ = OpenedPort.closeAll(opened)
            throw CommandFailure("\(error)")
        }
    }
    return opened
}
