import Apps
import ArgumentParser

/// `--metrics ADDR:PORT`, taken by the commands that run a datapath (forward, capture, bench).
struct MetricsOption: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "Serve GET /metrics (Prometheus text format) on ADDR:PORT, [IPV6]:PORT, or PORT alone on 127.0.0.1.",
        valueName: "addr:port"))
    var metrics: String?

    func validate() throws {
        guard let metrics else { return }
        do { _ = try MetricsAddress(parsing: metrics) } catch { throw ValidationError(error.description) }
    }

    /// Starts listening when `--metrics` was given (call it before opening any device, so
    /// that a port in use fails first); nil otherwise.
    func start() throws -> MetricsEndpoint? {
        guard let metrics else { return nil }
        do {
            let address = try MetricsAddress(parsing: metrics)
            let board = MetricsBoard(MetricsSnapshot(ports: []))
            return MetricsEndpoint(board: board, server: try MetricsServer(address: address, board: board))
        } catch {
            throw CommandFailure("\(error)")
        }
    }
}

/// The running metrics endpoint of a command: the board its controller publishes to, and the
/// server that shows the board to scrapes.
struct MetricsEndpoint {
    /// What scrapes show.
    let board: MetricsBoard
    /// The HTTP server.
    let server: MetricsServer

    /// Shows `ports` as they are now (read on the thread that reads their statistics), with
    /// a forwarder's lanes.
    func publish(_ ports: [OpenedPort], lanes: [LaneActivity] = [], capture: CaptureCounters? = nil) {
        board.publish(MetricsSnapshot(ports: ports.map { PortMetrics($0) }, lanes: lanes, capture: capture))
    }

    /// Shows `ports` as they are now with the polling of the bench threads of their queues, as
    /// `report` says it.
    func publish(_ ports: [OpenedPort], bench report: BenchReport) {
        var metrics = ports.map { PortMetrics($0) }
        for (index, rates) in report.ports.enumerated() where metrics.indices.contains(index) {
            for result in rates.queues {
                guard let slot = metrics[index].queues.firstIndex(where: { $0.queue == result.queue }) else { continue }
                metrics[index].queues[slot].polling = PollingActivity(mode: result.polling, asleepSeconds: result.asleepSeconds,
                                                                      wakeUps: result.wakeUps)
            }
        }
        board.publish(MetricsSnapshot(ports: metrics))
    }
}
