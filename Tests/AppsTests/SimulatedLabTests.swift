import Apps
import Foundation
import Testing
import VFSimulator

/// One lab's ports opened and closed by several threads at once: the lab stops its engine when
/// the last port closes and starts it when one opens, and neither may undo the other.
@Suite struct SimulatedLabTests {
    @Test("three threads open and close sim: ports of one lab over and over: every port opens, passes its reset, and closes whole")
    func concurrentOpenAndClose() throws {
        let lab = SimulatedLab()
        let failures = Failures()
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
                        failures.record(OpenedPort.closeAll([port]))
                    } catch {
                        failures.record(["thread \(t) cycle \(i): \(error)"])
                    }
                }
            }.start()
        }
        group.wait()
        #expect(failures.all.isEmpty)
        #expect(!lab.engine.isRunning && lab.engine.attachedCount == 0)
    }
}

/// Sentences gathered from several threads (behind a pthread mutex, which the thread sanitizer
/// sees).
final class Failures: @unchecked Sendable {
    // @unchecked: `sentences` is accessed only under `lock`.
    private let lock = NSLock()
    private var sentences: [String] = []

    /// Adds `more`.
    func record(_ more: [String]) { lock.withLock { sentences += more } }

    /// Every sentence so far.
    var all: [String] { lock.withLock { sentences } }
}
