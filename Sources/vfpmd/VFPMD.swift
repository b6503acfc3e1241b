import ArgumentParser
import Logging

/// The `vfpmd` command: a poll-mode driver for Intel SR-IOV VFs and the tools on it.
@main
struct VFPMD: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vfpmd",
        abstract: "User-space poll-mode driver for Intel SR-IOV Virtual Functions (ixgbevf, igbvf).",
        version: VersionCommand.version,
        subcommands: [
            DevicesCommand.self, BindCommand.self, UnbindCommand.self, SRIOVCommand.self,
            ForwardCommand.self, CaptureCommand.self, BenchCommand.self, CompareCommand.self, VersionCommand.self,
        ]
    )

    /// Runs the command line. A command that fails at run time prints its one sentence as
    /// `error: …` (as the device commands do) and exits 1; mistakes in the command line itself
    /// get ArgumentParser's usage text.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let failure as CommandFailure {
            printError(failure.description)
            if let details = failure.details { printToStandardError(details, terminator: "") }
            Self.exit(withError: ExitCode.failure)
        } catch {
            // --help and --version end here too, with their own text and status 0.
            // A command that printed its own errors throws a bare exit code.
            let code = exitCode(for: error)
            guard code != .success, !(error is ExitCode) else { Self.exit(withError: error) }
            // A mistake in the command line: one `error:` line first, then the usage.
            printError(message(for: error))
            let usage = fullMessage(for: error).split(separator: "\n", omittingEmptySubsequences: false).dropFirst()
            printToStandardError(usage.joined(separator: "\n"))
            Self.exit(withError: ExitCode(code.rawValue))
        }
    }
}

/// Options every subcommand takes.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .notice

    /// Sends log lines to standard error at the chosen level.
    func bootstrapLogging() {
        let level = logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
