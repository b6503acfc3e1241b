import Benchmark
import DriverRig
import PMDCore

/// The driver per VF: RX-only, TX-only and forward between two simulated VFs, the device model
/// stepped in the same thread (see `DriverRig`), for 64, 512 and 1518-byte frames and bursts of
/// 1, 8, 32 and 64.
///
/// One iteration is one round: one engine step and 64 packets of driver work. Besides time and
/// mallocs, each sample reports the driver's own cost from the TSC, engine steps left out:
/// `driver cycles/packet` (TSC ticks per packet) and `driver packets/s` (what one core would
/// move if the device cost nothing). `throughput` counts rounds per second with the device model in.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal, cyclesPerPacket, driverPPS],
        scalingFactor: .kilo,
        maxDuration: .seconds(1),
        maxIterations: 25,
        thresholds: [
            .mallocCountTotal: .init(absolute: [.p90: 0]),
            cyclesPerPacket: noisyMachine,
            driverPPS: noisyMachine,
            // A round's time includes the device model and, here, 2x swings from other work
            // on the machine: reported, not checked.
            .wallClock: BenchmarkThresholds(),
            .throughput: BenchmarkThresholds(),
        ]
    )

    let modes: [(String, (DriverRig) -> (Int) -> Int)] = [
        ("RX-only", DriverRig.receiveOnly), ("TX-only", DriverRig.transmitOnly), ("forward", DriverRig.forward),
    ]
    for (mode, loop) in modes {
        for size in [64, 512, 1518] {
            for burst in [1, 8, 32, 64] {
                Benchmark("Driver \(mode) \(size)B burst \(burst)") { benchmark in
                    let rig = try DriverRig(frameSize: size, burst: burst, receiving: mode != "TX-only")
                    let run = loop(rig)
                    _ = run(64)                       // warm-up: the rings wrap once
                    let device = rig.deviceTicks
                    benchmark.startMeasurement()
                    let start = TSC.now()
                    let packets = run(benchmark.scaledIterations.count)
                    let ticks = TSC.now() &- start
                    benchmark.stopMeasurement()
                    let driverTicks = Double(ticks &- (rig.deviceTicks &- device))
                    let perPacket = driverTicks / Double(max(packets, 1))
                    benchmark.measurement(cyclesPerPacket, Int(perPacket.rounded()))
                    benchmark.measurement(driverPPS, Int(TSC.frequency / perPacket))
                    let problems = rig.finish()
                    precondition(problems.isEmpty && packets == benchmark.scaledIterations.count * DriverRig.packetsPerRound,
                                 "\(problems); \(packets) packets")
                }
            }
        }
    }
}

/// TSC ticks per packet spent in the driver.
let cyclesPerPacket = BenchmarkMetric.custom("driver cycles/packet", polarity: .prefersSmaller, useScalingFactor: false)
/// Packets per second one core would move at that cost.
let driverPPS = BenchmarkMetric.custom("driver packets/s", polarity: .prefersLarger, useScalingFactor: false)
/// What a shared 2-vCPU machine's noise allows: 50 % at the median (tighten on a quiet host).
var noisyMachine: BenchmarkThresholds { BenchmarkThresholds(relative: [.p50: 50]) }
