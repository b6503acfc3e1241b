import Apps
import ArgumentParser

/// `--poll`, `--poll-idle` and `--moderation`, taken by the commands that run a datapath
/// (capture, forward, bench); each command gives its default mode.
struct PollingOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("busy (poll without pause), adaptive (poll while frames come, sleep on the ports' interrupts once idle) or interrupt (sleep after every empty poll); default adaptive for capture, busy for forward and bench.", valueName: "mode"))
    var poll: String?

    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("With --poll adaptive: microseconds without a frame before sleeping (default \(PollingPolicy.defaultIdleMicroseconds)).", valueName: "microseconds"))
    var pollIdle: String?

    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("With --poll adaptive or interrupt: microseconds at least between two interrupts of a queue (0-1000, default 0).", valueName: "microseconds"))
    var moderation: String?

    /// The policy the options give, `defaultMode` when --poll is not given; a refused value
    /// is one sentence naming its option.
    func policy(defaultMode: PollingMode) throws -> PollingPolicy {
        do {
            return try PollingPolicy(mode: poll, idle: pollIdle, moderation: moderation, defaultMode: defaultMode)
        } catch {
            throw ValidationError(error.description)
        }
    }
}
