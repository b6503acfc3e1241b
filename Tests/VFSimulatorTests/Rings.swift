import CShims
import PMDCore
@testable import VFSimulator

/// A descriptor ring and its buffers, programmed by hand as the references describe.
final class TestRing {
    let ring: DMAMemory
    let buffers: DMAMemory
    let count: Int
    let bufferSize: Int

    init(vf: SimulatedVF, count: Int, bufferSize: Int) throws {
        self.count = count
        self.bufferSize = bufferSize
        ring = try DMAMemory(length: count * 16, pages: .smallPages)
        buffers = try DMAMemory(length: count * bufferSize, pages: .smallPages)
        try vf.mapDMA(ring)
        try vf.mapDMA(buffers)
    }

    func descriptor(_ i: Int) -> UnsafeMutableRawPointer { ring.address + i * 16 }
    func buffer(_ i: Int) -> UnsafeMutableRawPointer { buffers.address + i * bufferSize }
    func bufferIOVA(_ i: Int) -> UInt64 { buffers.iova! + UInt64(i * bufferSize) }

    /// RX write-back fields of descriptor `i`.
    func writeBack(_ i: Int) -> (pktInfo: UInt32, rss: UInt32, status: UInt32, length: Int, vlan: UInt16) {
        let d = descriptor(i)
        return (d.load(as: UInt32.self) & 0xFFFF, d.load(fromByteOffset: 4, as: UInt32.self),
                d.load(fromByteOffset: 8, as: UInt32.self), Int(d.load(fromByteOffset: 12, as: UInt16.self)),
                d.load(fromByteOffset: 14, as: UInt16.self))
    }

    func bytes(_ i: Int, _ n: Int) -> [UInt8] { Array(UnsafeRawBufferPointer(start: buffer(i), count: n)) }
}

extension Rig {
    /// Programs RX queue `q` in the order of the ixgbevf and igbvf RX bring-up, waits for the
    /// enable, fills every descriptor and gives all but one to the device.
    @discardableResult
    func setUpRX(queue q: Int = 0, count: Int = 64, bufferSize: Int = 2048, strip: Bool = false) throws -> TestRing {
        let r = try TestRing(vf: vf, count: count, bufferSize: bufferSize)
        try vf.enableBusMaster()
        let iova = r.ring.iova!
        bar.write(regs.rx(q, RegisterMap.ringBaseLow), UInt32(truncatingIfNeeded: iova))
        bar.write(regs.rx(q, RegisterMap.ringBaseHigh), UInt32(iova >> 32))
        bar.write(regs.rx(q, RegisterMap.ringLength), UInt32(count * 16))
        bar.write(regs.rx(q, RegisterMap.head), 0)
        bar.write(regs.rx(q, RegisterMap.tail), 0)
        bar.write(regs.rx(q, regs.srrctl), 0x0200_0000 | regs.srrctlDropEnable | UInt32(bufferSize >> 10))
        for i in 0..<count {
            r.descriptor(i).storeBytes(of: r.bufferIOVA(i), as: UInt64.self)
            r.descriptor(i).storeBytes(of: UInt64(0), toByteOffset: 8, as: UInt64.self)
        }
        bar.write(regs.rx(q, RegisterMap.queueControl), RegisterMap.queueEnable | (strip ? RegisterMap.rxVLANStrip : 0))
        waitForEnable(regs.rx(q, RegisterMap.queueControl))
        bar.write(regs.rx(q, RegisterMap.tail), UInt32(count - 1))
        return r
    }

    /// Programs TX queue `q` and waits for the enable.
    @discardableResult
    func setUpTX(queue q: Int = 0, count: Int = 64, bufferSize: Int = 2048) throws -> TestRing {
        let r = try TestRing(vf: vf, count: count, bufferSize: bufferSize)
        try vf.enableBusMaster()
        let iova = r.ring.iova!
        bar.write(regs.tx(q, RegisterMap.ringBaseLow), UInt32(truncatingIfNeeded: iova))
        bar.write(regs.tx(q, RegisterMap.ringBaseHigh), UInt32(iova >> 32))
        bar.write(regs.tx(q, RegisterMap.ringLength), UInt32(count * 16))
        bar.write(regs.tx(q, RegisterMap.head), 0)
        bar.write(regs.tx(q, RegisterMap.tail), 0)
        bar.write(regs.tx(q, RegisterMap.queueControl), RegisterMap.queueEnable | 32 | 1 << 8)
        waitForEnable(regs.tx(q, RegisterMap.queueControl))
        return r
    }

    /// Polls an enable bit as drivers do: 10 × 1 ms.
    func waitForEnable(_ offset: Int) {
        for _ in 0..<10 {
            vf.delay(microseconds: 1000)
            if bar.read(offset) & RegisterMap.queueEnable != 0 { return }
        }
    }

    /// Writes a TX data descriptor at `slot` for `bytes` placed in that slot's buffer.
    func postData(_ r: TestRing, slot: Int, _ bytes: [UInt8], eop: Bool = true, rs: Bool = true, cc: Bool = true,
                  vle: Bool = false, bufferOffset: Int = 0, idx: UInt32 = 0) {
        bytes.withUnsafeBytes { (r.buffer(slot) + bufferOffset).copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
        var cmd: UInt32 = 0x2030_0000 | 0x0200_0000 | UInt32(bytes.count)
        if eop { cmd |= AdvancedTxDescriptor.eop }
        if rs { cmd |= AdvancedTxDescriptor.rs }
        if vle { cmd |= AdvancedTxDescriptor.vle }
        let olinfo = UInt32(bytes.count) << 14 | (cc ? AdvancedTxDescriptor.cc : 0) | idx << 4
        let d = r.descriptor(slot)
        d.storeBytes(of: r.bufferIOVA(slot) + UInt64(bufferOffset), as: UInt64.self)
        d.storeBytes(of: cmd, toByteOffset: 8, as: UInt32.self)
        d.storeBytes(of: olinfo, toByteOffset: 12, as: UInt32.self)
    }

    /// Writes the default context descriptor (MACLEN 14, L4 type reserved, IDX `idx`, VLAN `vlan`).
    func postContext(_ r: TestRing, slot: Int, vlan: UInt16 = 0, idx: UInt32 = 0) {
        let d = r.descriptor(slot)
        d.storeBytes(of: UInt32(vlan) << 16 | 14 << 9, as: UInt32.self)
        d.storeBytes(of: UInt32(0), toByteOffset: 4, as: UInt32.self)
        d.storeBytes(of: UInt32(0x2000_0000 | 0x0020_0000 | 0x1800), toByteOffset: 8, as: UInt32.self)
        d.storeBytes(of: idx << 4, toByteOffset: 12, as: UInt32.self)
    }
}

/// Frames for tests.
enum Frames {
    /// A UDP/IPv4 frame from the generator's builder: `size` bytes on the wire with CRC.
    static func udp(size: Int = 64, flow: Int = 0, to destination: MACAddress = Rig.mac,
                    from source: MACAddress = MACAddress(0x02, 0, 0, 0, 0, 0x09)) -> [UInt8] {
        var c = FrameGenerator.Configuration()
        c.frameSizes = [size]
        c.flows = flow + 1
        c.destination = destination
        c.source = source
        let g = FrameGenerator(c)
        let b = FrameBatch()
        _ = g.pull(into: b, limit: flow + 1, now: 0)
        return b[flow].bytes
    }

    /// `frame` with an 802.1Q tag inserted after the source MAC.
    static func tagged(_ frame: [UInt8], tci: UInt16) -> [UInt8] {
        Array(frame[0..<12]) + [0x81, 0x00, UInt8(tci >> 8), UInt8(tci & 0xFF)] + Array(frame[12...])
    }
}
