import Foundation
import PMDCore
import VFSimulator

/// How busy the simulator was during a run of an app on simulated ports: the share of the run
/// its engine thread spent in passes that did work (`SimulationEngine.busyNanoseconds`).
/// Near 100 % the model set the pace and the rates measure it; below, the model kept up and
/// the rates measure the driver and the app.
struct ModelLoadMeter {
    private let engines: [SimulationEngine]
    private let busyAtStart: [UInt64]

    /// Starts measuring the engines behind `ports` (each once; none without simulated ports).
    init(ports: [any PMDCore.Port]) {
        var seen = Set<ObjectIdentifier>()
        engines = ports.compactMap { SimulatedLab.simulatedVF(behind: $0)?.engine }
            .filter { seen.insert(ObjectIdentifier($0)).inserted }
        busyAtStart = engines.map(\.busyNanoseconds)
    }

    /// The share of `seconds`, in percent, that the busiest engine spent in passes that did
    /// work since the start (at most 100: work done after a window shorter than the run
    /// counts in it); nil without simulated ports.
    func busyPercent(over seconds: Double) -> Double? {
        guard !engines.isEmpty else { return nil }
        let busiest = zip(engines, busyAtStart).map { $0.busyNanoseconds &- $1 }.max() ?? 0
        return min(100, Double(busiest) / max(seconds * 1e9, 1) * 100)
    }

    /// The summary line stating `percent` of `window` ("the run").
    static func line(_ percent: Double, of window: String) -> String {
        String(format: "  simulated VFs: the model's thread was busy %.1f%% of %@\n", percent, window)
    }
}
