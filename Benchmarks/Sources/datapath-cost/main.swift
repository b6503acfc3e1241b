// datapath-cost: forwards 64-byte packets at burst 32 between two simulated VFs, the device
// model stepped in the same thread, and prints the driver's TSC ticks per packet (engine
// steps left out). scripts/datapath-cost.sh runs it under callgrind for instruction counts.
//
// Usage: datapath-cost [packets]   (default 1,000,000; rounded down to a multiple of 64)
//        datapath-cost --sweep [packets]   CSV of every mode, frame size and burst
//                                           (scripts/plot-bursts.py draws it)
import DriverRig
import Foundation
import PMDCore

/// Driver TSC ticks per packet of `mode` (device model left out), best of `tries` runs.
func ticksPerPacket(mode: String, size: Int, burst: Int, packets: Int, tries: Int = 3) throws -> Double {
    var best = Double.infinity
    for _ in 0..<tries {
        let rig = try DriverRig(frameSize: size, burst: burst, receiving: mode != "tx-only")
        let run: (Int) -> Int = switch mode {
        case "rx-only": rig.receiveOnly
        case "tx-only": rig.transmitOnly
        default: rig.forward
        }
        _ = run(64)
        let rounds = packets / DriverRig.packetsPerRound
        let device = rig.deviceTicks
        let start = TSC.now()
        let n = run(rounds)
        let ticks = TSC.now() &- start &- (rig.deviceTicks &- device)
        let problems = rig.finish()
        guard problems.isEmpty, n == rounds * DriverRig.packetsPerRound else {
            throw DriverRigFailure(description: "\(mode) \(size)B burst \(burst): \(problems); \(n) packets")
        }
        best = min(best, Double(ticks) / Double(n))
    }
    return best
}

struct DriverRigFailure: Error, CustomStringConvertible { var description: String }

let arguments = CommandLine.arguments
if arguments.count >= 2 && arguments[1] == "--sweep" {
    let packets = arguments.count > 2 ? Int(arguments[2]) ?? 200_000 : 200_000
    print("mode,frame_size,burst,driver_ticks_per_packet,driver_mpps,tsc_ghz")
    do {
        for mode in ["rx-only", "tx-only", "forward"] {
            for size in [64, 512, 1518] {
                for burst in [1, 8, 32, 64] {
                    let t = try ticksPerPacket(mode: mode, size: size, burst: burst, packets: packets)
                    print(String(format: "%@,%d,%d,%.1f,%.2f,%.3f", mode as NSString, size, burst, t,
                                 TSC.frequency / t / 1e6, TSC.frequency / 1e9))
                    fflush(nil)
                }
            }
        }
    } catch {
        FileHandle.standardError.write(Data("datapath-cost: \(error)\n".utf8))
        exit(1)
    }
    exit(0)
}
guard arguments.count <= 2, let packets = Int(arguments.count == 2 ? arguments[1] : "1000000"),
      packets >= DriverRig.packetsPerRound else {
    FileHandle.standardError.write(Data("usage: datapath-cost [packets]   (packets >= 64)\n".utf8))
    exit(2)
}

do {
    let rig = try DriverRig(frameSize: 64, burst: 32)
    // Warm-up: the TX ring wraps and reclaiming runs, as in the steady state measured next.
    _ = rig.forward(rounds: 64)
    let rounds = packets / DriverRig.packetsPerRound
    let deviceBefore = rig.deviceTicks
    let start = TSC.now()
    let forwarded = rig.forward(rounds: rounds)
    let ticks = TSC.now() &- start
    let driverTicks = ticks &- (rig.deviceTicks &- deviceBefore)
    let problems = rig.finish()
    print("forwarded: \(forwarded) packets of 64 bytes, burst 32")
    print(String(format: "TSC ticks/packet (driver, device model left out): %.1f  (TSC %.3f GHz)",
                 Double(driverTicks) / Double(max(forwarded, 1)), TSC.frequency / 1e9))
    print(String(format: "TSC ticks/packet (driver and device model): %.1f",
                 Double(ticks) / Double(max(forwarded, 1))))
    guard problems.isEmpty, forwarded == rounds * DriverRig.packetsPerRound else {
        FileHandle.standardError.write(Data("datapath-cost: \(problems.joined(separator: "; ")); forwarded \(forwarded) of \(rounds * DriverRig.packetsPerRound)\n".utf8))
        exit(1)
    }
} catch {
    FileHandle.standardError.write(Data("datapath-cost: \(error)\n".utf8))
    exit(1)
}
