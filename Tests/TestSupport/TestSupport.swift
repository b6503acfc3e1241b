// Helpers shared by the test targets: paths of the sample captures, temporary directories,
// child processes, and reading captures back with tcpdump and tshark.
import Foundation
import Testing

/// The repository's root (for pcaps/).
public let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

/// Path of a committed capture.
public func samplePath(_ name: String) -> String { repositoryRoot + "/pcaps/" + name }

/// A fresh empty directory for one test.
public func makeTemporaryDirectory() throws -> String {
    let path = NSTemporaryDirectory() + "pcapio-" + UUID().uuidString
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// Removes a directory made by `makeTemporaryDirectory()`.
public func removeDirectory(_ path: String) {
    try? FileManager.default.removeItem(atPath: path)
}

/// Result of running a program.
public struct ProcessResult {
    public var status: Int32
    public var stdout: String
    public var stderr: String
}

/// Runs `executable` with `arguments` and waits for it.
public func runProcess(_ executable: String, _ arguments: [String]) throws -> ProcessResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    let errData = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return ProcessResult(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                         stderr: String(decoding: errData, as: UTF8.self))
}

/// Lines of a reader's standard error that are not its usual banner: tcpdump's "reading from
/// file ..." line and tshark's note about running as root say nothing about the file.
public func warnings(in stderr: String) -> [Substring] {
    stderr.split(separator: "\n").filter {
        !$0.hasPrefix("reading from file ") && !$0.hasPrefix("Running as user \"root\"")
    }
}

/// Checks that tcpdump and tshark both read `path` without a warning and see `frames` frames.
public func expectReadableByTools(_ path: String, frames: Int, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let tcpdump = try runProcess("/usr/bin/tcpdump", ["-ntt", "-r", path])
    #expect(tcpdump.status == 0, "tcpdump -r \(path): \(tcpdump.stderr)", sourceLocation: sourceLocation)
    #expect(warnings(in: tcpdump.stderr).isEmpty, "tcpdump -r \(path): \(tcpdump.stderr)", sourceLocation: sourceLocation)
    // One line per frame starts with its epoch timestamp; decoders may add lines of their own.
    let stamped = tcpdump.stdout.split(separator: "\n").filter { $0.first?.isNumber == true && $0.contains(".") && !$0.hasPrefix("0x") }
    #expect(stamped.count == frames, sourceLocation: sourceLocation)
    let tshark = try runProcess("/usr/bin/tshark", ["-r", path, "-T", "fields", "-e", "frame.number"])
    #expect(tshark.status == 0, "tshark -r \(path): \(tshark.stderr)", sourceLocation: sourceLocation)
    #expect(warnings(in: tshark.stderr).isEmpty, "tshark -r \(path): \(tshark.stderr)", sourceLocation: sourceLocation)
    #expect(tshark.stdout.split(separator: "\n").count == frames, sourceLocation: sourceLocation)
}

/// The vfpmd executable built beside the test bundle (`swift build` builds it with the tests).
public func vfpmdExecutable() throws -> String {
    let bundleDirectory = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
    var candidates = [bundleDirectory.appendingPathComponent("vfpmd").path]
    if let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
        candidates.append(URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent("vfpmd").path)
    }
    guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
        throw TestFailure("the vfpmd executable is not built next to the tests (looked at \(candidates)); run `swift build --build-tests` first")
    }
    return found
}

/// A failure with a sentence.
public struct TestFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
