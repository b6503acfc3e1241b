import Apps
import Foundation
import Testing
import Synchronization
import VFSimulator

/// One lab's ports opened and closed by several threads at once: the lab stops its engine when
/// the last port closes and starts it when one opens, and neither may undo the other.
@Suite struct SimulatedLabTests {
    @Test("three threads open and close sim: ports of one lab over and over: every port opens, passes its reset, and closes whole")
    func concurrentOpenAndClose() throws {
        let lab = SimulatedLab()
        let failures = Mutex<[String]>([])
        let opened = Atomic<Int>(0)
        let cycles = 12
        let group = DispatchGroup()
        for t in 0..<3 {
            group.enter()
            Thread {
                defer { group.leave() }
                for i in 0..<cycles {
                    let family = ["ixgbevf", "x550vf", "igbvf"][(t + i) % 3]
                    do {
                        let port = try OpenedPort.open(PortSpec(parsing: "sim:\(family),name=t\(t)c\(i)"), lab: lab)
                        opened.add(1, ordering: .relaxed)
                        let leftovers = OpenedPort.closeAll([port])
                        if !leftovers.isEmpty { failures.withLock { $0 += leftovers } }
                    } catch {
                        failures.withLock { $0.append("thread \(t) cycle \(i): \(error)") }
                    }
                }
            }.start()
        }
        group.wait()
        #expect(failures.withLock { $0 }.isEmpty)
        #expect(opened.load(ordering: .relaxed) == 3 * cycles)
        #expect(!lab.engine.isRunning && lab.engine.attachedCount == 0)
    }
}
