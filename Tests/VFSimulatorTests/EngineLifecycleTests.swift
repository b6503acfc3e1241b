import Foundation
import PMDCore
import Testing
@testable import VFSimulator

/// The threaded engine against VFs that come and go, and against starts and stops, from several
/// threads at once: a detached (or freed) VF is never polled again, and one engine thread at
/// most runs. (Run under the address and thread sanitizers too: a VF freed under a pass, or two
/// engine threads, is what they report.)
@Suite struct EngineLifecycleTests {
    /// Bumps the VF's control version (a configuration write) and returns the new one.
    static func bumpControl(_ vf: SimulatedVF, command: UInt32) throws -> UInt64 {
        try vf.writeConfig32(command, at: 4)
        return vf.controlVersion.load(ordering: .acquiring)
    }

    /// Runs `bodies` each in a thread of its own, all at once; returns when every one returned.
    static func concurrently(_ bodies: [@Sendable () -> Void]) {
        let group = DispatchGroup()
        for body in bodies {
            group.enter()
            Thread {
                body()
                group.leave()
            }.start()
        }
        group.wait()
    }

    /// What a worker kept of a VF it detached: the VF and what the engine had applied and
    /// counted when `detach` returned.
    struct Detached: @unchecked Sendable {
        // @unchecked: the VF is only read after the threads that made it returned.
        let vf: SimulatedVF
        let applied: UInt64
        let counters: SimulatedVF.Counters
    }

    @Test("VFs attached, polled, detached and freed by four threads while two others stop and start the threaded engine")
    func concurrentAttachDetachStartStop() throws {
        let engine = SimulationEngine(mode: .threaded)
        let container = SimulatedContainer()
        engine.start()
        let families: [SimulatedFamily] = [.ixgbe82599, .ixgbeX550, .igb82576]
        let generator = {
            var c = FrameGenerator.Configuration()
            c.destination = Rig.mac
            return c
        }()
        let kept = Locked<[Detached]>([])
        let failures = Locked<[String]>([])
        let cycles = 40

        let worker: @Sendable (Int) -> Void = { w in
            for i in 0..<cycles {
                let vf = SimulatedVF(family: families[(w + i) % families.count], container: container, engine: engine,
                                     settings: PFSettings(mac: Rig.mac))
                vf.connect(rx: FrameGenerator(generator))
                do {
                    // Polled at least once: the engine applied this configuration write.
                    let version = try Self.bumpControl(vf, command: 0x6)
                    while vf.appliedVersion.load(ordering: .acquiring) < version { sched_yield() }
                } catch {
                    failures.withLock { $0.append("worker \(w) cycle \(i): \(error)") }
                }
                engine.detach(vf)
                // Every other VF is kept to be checked at the end; the others are freed here,
                // while the engine runs passes over the VFs of the other workers.
                if i % 2 == 0 {
                    kept.withLock { $0.append(Detached(vf: vf, applied: vf.appliedVersion.load(ordering: .acquiring),
                                                       counters: vf.counters)) }
                }
            }
        }
        let toggler: @Sendable () -> Void = {
            for _ in 0..<cycles {
                engine.stop()
                engine.start()
            }
        }
        Self.concurrently([toggler, toggler] + (0..<4).map { w in { worker(w) } })

        #expect(failures.withLock { $0 }.isEmpty)
        #expect(engine.isRunning && engine.attachedCount == 0)
        // The engine runs on: none of the detached VFs is polled again, whatever it is asked.
        let detached = kept.withLock { $0 }
        #expect(detached.count == 4 * cycles / 2)
        for d in detached { _ = try Self.bumpControl(d.vf, command: 0x2) }
        let passes = engine.passCount
        while engine.passCount < passes + 2 { sched_yield() }
        for d in detached {
            #expect(d.vf.appliedVersion.load(ordering: .acquiring) == d.applied, "\(d.vf.address) was polled after its detach")
            #expect(d.vf.counters == d.counters, "\(d.vf.address) counted frames after its detach")
        }
        engine.stop()
        #expect(!engine.isRunning)
    }
}
