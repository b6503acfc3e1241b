import Benchmark
import PMDCore
import VFSimulator

/// The simulator's engine must not be what limits a benchmark: one stepped engine step moves
/// one burst of up to 64 frames per direction. Mpps = 64 × steps per second.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.cpuTotal, .wallClock, .throughput, .mallocCountTotal],
        scalingFactor: .kilo,
        maxDuration: .seconds(2),
        // Mallocs stay 0; times may move 50 % at the median on this noisy 2-vCPU machine.
        thresholds: [
            .mallocCountTotal: .init(absolute: [.p90: 0]),
            .cpuTotal: .init(relative: [.p50: 50]),
            .wallClock: .init(relative: [.p50: 50]),
            .throughput: .init(relative: [.p50: 50]),
        ]
    )

    Benchmark("VFSimulator RX step, 64 frames of 64 bytes (per step)") { benchmark in
        let bench = try SimulatorBench(family: .ixgbe82599)
        bench.connectGenerator()
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            bench.engine.step()
            bench.refillRX()
        }
        benchmark.stopMeasurement()
        precondition(bench.vf.counters.rxMissed == 0)
    }

    Benchmark("VFSimulator TX step, 64 frames of 64 bytes (per step)") { benchmark in
        let bench = try SimulatorBench(family: .ixgbeX550)
        bench.fillTX()
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            bench.engine.step()
            bench.refillTX()
        }
        benchmark.stopMeasurement()
        precondition(bench.vf.violations.isEmpty)
    }
}

/// One VF with a 1024-descriptor RX and TX ring, programmed through raw registers.
final class SimulatorBench {
    let engine = SimulationEngine(mode: .stepped)
    let vf: SimulatedVF
    let regs: RegisterMap
    let rxRing: DMAMemory, rxBuffers: DMAMemory, txRing: DMAMemory, txBuffers: DMAMemory
    let count = 1024
    let mac = MACAddress(0x02, 0x11, 0x22, 0x33, 0x44, 0x55)
    var rxNext = 0
    var txTail = 0

    init(family: SimulatedFamily) throws {
        vf = SimulatedVF(family: family, container: SimulatedContainer(), engine: engine, settings: PFSettings(mac: mac))
        regs = family.registers
        let bar = vf.bar0
        bar.write(regs.mailboxMemory, PFMailboxMessage.reset)
        bar.write(regs.mailbox, MailboxBits.req)
        engine.step()
        bar.write(regs.mailbox, MailboxBits.ack)
        try vf.enableBusMaster()
        rxRing = try DMAMemory(length: count * 16, pages: .smallPages)
        rxBuffers = try DMAMemory(length: count * 2048, pages: .smallPages)
        txRing = try DMAMemory(length: count * 16, pages: .smallPages)
        txBuffers = try DMAMemory(length: count * 2048, pages: .smallPages)
        for m in [rxRing, rxBuffers, txRing, txBuffers] { try vf.mapDMA(m) }
        for (base, ring) in [(regs.rx(0, 0), rxRing), (regs.tx(0, 0), txRing)] {
            bar.write(base + RegisterMap.ringBaseLow, UInt32(truncatingIfNeeded: ring.iova!))
            bar.write(base + RegisterMap.ringBaseHigh, UInt32(ring.iova! >> 32))
            bar.write(base + RegisterMap.ringLength, UInt32(count * 16))
        }
        bar.write(regs.rx(0, regs.srrctl), 0x0200_0002 | regs.srrctlDropEnable)
        for i in 0..<count { postRX(i) }
        bar.write(regs.rx(0, RegisterMap.queueControl), RegisterMap.queueEnable)
        bar.write(regs.tx(0, RegisterMap.queueControl), RegisterMap.queueEnable)
        vf.delay(microseconds: 1000)
        bar.write(regs.rx(0, RegisterMap.tail), UInt32(count - 1))
    }

    func connectGenerator() {
        var c = FrameGenerator.Configuration()
        c.destination = mac
        c.flows = 16
        vf.connect(rx: FrameGenerator(c), tx: CountingSink())
    }

    private func postRX(_ i: Int) {
        let d = rxRing.address + i * 16
        d.storeBytes(of: rxBuffers.iova! + UInt64(i * 2048), as: UInt64.self)
        d.storeBytes(of: UInt64(0), toByteOffset: 8, as: UInt64.self)
    }

    /// Gives every written-back descriptor back to the device, as a driver's refill does.
    func refillRX() {
        var last = -1
        while (rxRing.address + rxNext * 16).load(fromByteOffset: 8, as: UInt32.self) & 1 != 0 {
            postRX(rxNext)
            last = rxNext
            rxNext = rxNext + 1 == count ? 0 : rxNext + 1
        }
        if last >= 0 { vf.bar0.write(regs.rx(0, RegisterMap.tail), UInt32(last)) }
    }

    private func postTX(_ i: Int) {
        let d = txRing.address + i * 16
        d.storeBytes(of: txBuffers.iova! + UInt64(i * 2048), as: UInt64.self)
        d.storeBytes(of: UInt32(0x2B30_0000 | 60), toByteOffset: 8, as: UInt32.self)
        d.storeBytes(of: UInt32(60 << 14 | 0x80), toByteOffset: 12, as: UInt32.self)
    }

    /// A context descriptor, then data descriptors for 60-byte frames from the VF's MAC.
    func fillTX() {
        vf.connect(tx: CountingSink())
        for i in 0..<count {
            let b = txBuffers.address + i * 2048
            b.initializeMemory(as: UInt8.self, repeating: 0, count: 60)
            b.storeBytes(of: 0x02, as: UInt8.self)
            mac.store(to: b + 6)
            b.storeBytes(of: UInt16(0x0800).bigEndian, toByteOffset: 12, as: UInt16.self)
        }
        txRing.address.storeBytes(of: UInt32(14 << 9), as: UInt32.self)
        txRing.address.storeBytes(of: UInt32(0x2020_1800), toByteOffset: 8, as: UInt32.self)
        txRing.address.storeBytes(of: UInt32(0), toByteOffset: 12, as: UInt32.self)
        for i in 1..<count { postTX(i) }
        txTail = count - 1
        vf.bar0.write(regs.tx(0, RegisterMap.tail), UInt32(txTail))
    }

    /// Re-posts the descriptors the device consumed, keeping the ring full.
    func refillTX() {
        let head = Int(vf.bar0.read(regs.tx(0, RegisterMap.head)))
        while (txTail + 1) % count != head {
            txTail = (txTail + 1) % count
            postTX(txTail)
        }
        vf.bar0.write(regs.tx(0, RegisterMap.tail), UInt32(txTail))
    }
}
