import class Foundation.NSLock
import Logging
import PMDCore
import PcapIO
import Synchronization
import VFDriver
import VFSimulator

/// The simulated VFs of this process: one container (one I/O address space, as one VFIO
/// container), one engine thread serving every VF, and the VFs by name for `link=`.
public final class SimulatedLab: @unchecked Sendable {
    // @unchecked: `labState` is accessed only under `lock` (a pthread mutex: the thread
    // sanitizer sees it, as it does not see a futex-based one).
    /// The lab `sim:` port specs open into.
    public static let shared = SimulatedLab()

    /// The shared I/O address space.
    public let container = SimulatedContainer()
    /// The engine thread.
    public let engine = SimulationEngine(mode: .threaded)
    private let lock = NSLock()
    private var labState = LabState()

    private struct LabState {
        var byName: [String: SimulatedVF] = [:]
        var waitingForLink: [String: SimulatedVF] = [:]
        /// The spec of each VF waiting for its `link=` peer, by the peer's name.
        var waitingSpecs: [String: String] = [:]
        var opened = 0
        var open = 0
    }

    /// A lab of its own (tests); `shared` serves the CLI.
    public init() {}

    /// Runs `body` with the lab's state, under its lock.
    private func withState<R, E: Error>(_ body: (inout LabState) throws(E) -> R) throws(E) -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&labState)
    }

    /// Opens a VF of `settings.family` with its wires and PF, and the driver on it with
    /// `driver`; the port's backing is the VF with its wires.
    public func open(_ settings: SimulatedVFSettings, driver: VFPortConfiguration, spec: String) throws -> VFPort {
        if settings.link != nil && (settings.rxFile != nil || settings.txFile != nil) {
            throw SimulatedPortError.linkAndFiles(spec: spec)
        }
        let index = withState { s in s.opened += 1; return s.opened }
        let name = settings.name ?? "vf\(index - 1)"
        if settings.link == name { throw SimulatedPortError.linkToItself(spec: spec, name: name) }
        var pf = PFSettings()
        // The PF chooses a MAC when the administrator did not: locally administered, per VF.
        pf.administrativeMAC = settings.mac ?? MACAddress(0x02, 0x09, 0xC0, 0x00, 0x00, UInt8(truncatingIfNeeded: index))
        pf.spoofCheck = settings.spoofCheck
        pf.trusted = settings.trusted
        pf.queuesPerPool = driver.queues <= 1 ? 1 : driver.queues <= 2 ? 2 : driver.queues <= 4 ? 4 : 8
        pf.pfMTU = max(1500, driver.mtu)
        pf.pfPromiscuous = driver.promiscuous

        let source = try settings.rxFile.map { path in
            do { return try PcapFrameSource(path: path, loop: settings.loop == 0 ? Int.max : settings.loop) } catch {
                throw SimulatedPortError.wire(spec: spec, reason: "\(error)")
            }
        }
        let sink = try settings.txFile.map { path in
            do { return try PcapFrameSink(path: path) } catch { throw SimulatedPortError.wire(spec: spec, reason: "\(error)") }
        }
        let vf = SimulatedVF(family: settings.family, container: container, engine: engine, address: "sim:\(name)", settings: pf)
        try withState { s throws(SimulatedPortError) in
            guard s.byName[name] == nil else { throw .duplicateName(spec: spec, name: name) }
            s.byName[name] = vf
            if let peer = settings.link.flatMap({ s.byName[$0] }) {
                _ = Cable(vf, peer)
            } else if let link = settings.link {
                s.waitingForLink[link] = vf
                s.waitingSpecs[link] = spec
            }
            if let waiting = s.waitingForLink.removeValue(forKey: name) {
                _ = Cable(waiting, vf)
                s.waitingSpecs[name] = nil
            }
            s.open += 1
            // Under the lock: a port closing meanwhile cannot stop the engine after this start.
            engine.start()
        }

        let backing = SimulatedVFBacking(vf: vf, name: name, lab: self, source: source, sink: sink,
                                         linked: settings.link != nil)
        do {
            let port = try VFPort(function: vf, configuration: driver, name: spec, backing: backing)
            let queues = port.queueCount
            if settings.pause { source?.credit = { [unowned vf] in Self.freeReceiveDescriptors(vf, queues: queues) } }
            vf.connect(rx: source, tx: sink)
            return port
        } catch {
            // The driver's own error: the port layer words it for a sim: port.
            release(vf, name: name)
            throw error
        }
    }

    /// Fails when a VF's `link=` names no VF of the lab (call once every port is open): a
    /// cable to nowhere would show the link up and lose everything sent.
    public func checkLinks() throws(SimulatedPortError) {
        let (dangling, names) = withState { s in (s.waitingSpecs.sorted { $0.key < $1.key }.first, s.byName.keys.sorted()) }
        if let (peer, spec) = dangling { throw .noSuchPeer(spec: spec, peer: peer, names: names) }
    }

    /// The simulated VF behind `port`, if it is a port this lab opened.
    public func simulatedVF(behind port: any Port) -> SimulatedVF? { Self.simulatedVF(behind: port) }

    /// The simulated VF behind `port`, if it is a port of a lab.
    static func simulatedVF(behind port: any Port) -> SimulatedVF? {
        ((port as? VFPort)?.backing as? SimulatedVFBacking)?.vf
    }

    /// Receive descriptors the driver has given the VF and the VF has not filled, on the
    /// fullest of the driver's `queues` queues; 0 while any of them is not running (RSS may
    /// steer a frame to any of them). Runs on the engine's thread (from the wire's pull).
    static func freeReceiveDescriptors(_ vf: SimulatedVF, queues: Int) -> Int {
        var least = Int.max
        for q in 0..<queues { least = min(least, vf.freeReceiveDescriptors(queue: q)) }
        return least == Int.max ? 0 : least
    }

    func release(_ vf: SimulatedVF, name: String) {
        engine.detach(vf)
        withState { s in
            s.byName[name] = nil
            for (peer, waiting) in s.waitingForLink where waiting === vf {
                s.waitingForLink[peer] = nil
                s.waitingSpecs[peer] = nil
            }
            s.open -= 1
            // Under the lock: a port opening meanwhile starts the engine after this stop.
            if s.open == 0 { engine.stop() }
        }
    }
}

/// What stands behind the driver's port on a simulated VF: the VF, its wires and its lab.
/// It knows what only the simulation knows: whether the VF's input file is exhausted, and, at
/// stop, that everything sent reached the wire.
final class SimulatedVFBacking: VFPortBacking, Sendable {

    /// The simulated VF.
    let vf: SimulatedVF
    private let name: String
    private let lab: SimulatedLab
    private let source: PcapFrameSource?
    private let sink: PcapFrameSink?
    private let linked: Bool

    init(vf: SimulatedVF, name: String, lab: SimulatedLab, source: PcapFrameSource?, sink: PcapFrameSink?, linked: Bool) {
        self.vf = vf
        self.name = name
        self.lab = lab
        self.source = source
        self.sink = sink
        self.linked = linked
    }

    /// A VF fed from a file is exhausted once the device says every frame of the file is in
    /// the driver's hands or dropped and counted. One with no input never receives; one cabled
    /// to another VF is not a finite source.
    var isInputExhausted: Bool {
        if linked { return false }
        guard source != nil else { return true }
        return vf.hasDeliveredAllInput
    }

    /// The output file's error, once writing or closing it failed, with what reached the file.
    var failure: String? {
        guard let sink, let error = sink.failure else { return nil }
        return "\(error) (\(sink.framesWritten) frames written to it, \(sink.drops) dropped)"
    }

    /// What the simulated PF's filters kept from the VF.
    var filterDrops: FilterDrops { vf.filterDrops }

    /// Lets the device send what is on the TX rings (up to a second) before the queues stop.
    func portWillStop() {
        vf.waitForTransmitRingsIdle(timeoutNanoseconds: 1_000_000_000)
    }

    /// Takes the VF off the engine, closes its output file, and logs any driver error the
    /// simulated device saw.
    func portDidClose() {
        lab.release(vf, name: name)
        sink?.close()
        for v in vf.violations { appsLog.error("sim:\(name): the simulated device saw a driver error: \(v)") }
    }
}

/// Why a `sim:` port could not be opened.
public enum SimulatedPortError: Error, CustomStringConvertible {
    /// `link=` together with `rx=` or `tx=`.
    case linkAndFiles(spec: String)
    /// A second VF of the same name.
    case duplicateName(spec: String, name: String)
    /// A wire's capture file could not be opened or created.
    case wire(spec: String, reason: String)
    /// `link=` names the VF itself.
    case linkToItself(spec: String, name: String)
    /// `link=` names no VF that was opened.
    case noSuchPeer(spec: String, peer: String, names: [String])

    /// The spec of the port at fault.
    public var spec: String {
        switch self {
        case let .linkAndFiles(spec), let .duplicateName(spec, _), let .wire(spec, _), let .linkToItself(spec, _),
             let .noSuchPeer(spec, _, _):
            spec
        }
    }

    public var description: String {
        switch self {
        case let .linkAndFiles(spec):
            return "\(spec): link= cables the VF to another one; it cannot also have rx= or tx= files"
        case let .duplicateName(spec, name):
            return "\(spec): a simulated VF named \(name) is already open; give each name=… once"
        case let .wire(spec, reason):
            return "\(spec): \(reason)"
        case let .linkToItself(spec, name):
            return "\(spec): link=\(name) cables the VF to itself; name the other VF's name= (or use bench --mode loop with one port)"
        case let .noSuchPeer(spec, peer, names):
            return "\(spec): link=\(peer) names no simulated VF; give the other port name=\(peer) (open VFs: \(names.joined(separator: ", ")))"
        }
    }
}

let appsLog = Logger(label: "vfpmd.apps")
