// libFuzzer target: the driver's handling of mailbox reply words. A fake PF answers every
// request of a port's bring-up with words and control bits from the input (any type, ACK,
// NACK, CTS, RSTI/RSTD, garbage MACs and queue counts), and falls silent when the input
// ends. Opening the port must succeed or throw a VFDriverError; a port that opened closes
// with its pools whole.
import PMDCore
@testable import VFDriver

/// A VF whose BAR0 is plain memory and whose PF is the fuzzer's input.
final class FuzzedFunction: PCIFunction, @unchecked Sendable {
    // @unchecked: used by one thread, the fuzzer's.
    let address = "fuzz:0"
    let vendorID: UInt16 = 0x8086
    let deviceID: UInt16
    let memory = UnsafeMutableRawPointer.allocate(byteCount: 16 * 1024, alignment: 4096)
    let control: Int, words: Int
    var input: [UInt8]
    var position = 0
    var nextIOVA: UInt64 = 0x1000_0000

    init(igb: Bool, input: [UInt8]) {
        deviceID = igb ? 0x10CA : 0x10ED
        control = igb ? 0x0C40 : 0x02FC
        words = igb ? 0x0800 : 0x0200
        self.input = input
        memory.initializeMemory(as: UInt8.self, repeating: 0, count: 16 * 1024)
    }

    deinit { memory.deallocate() }

    var bar0: RegisterWindow { RegisterWindow(base: memory, length: 16 * 1024) }
    func readConfig32(at offset: Int) throws -> UInt32 { 0 }
    func writeConfig32(_ value: UInt32, at offset: Int) throws {}
    func mapDMA(_ region: DMAMemory) throws -> UInt64 {
        region.recordMapping(iova: nextIOVA)
        nextIOVA += UInt64(region.length + 4096)
        return region.iova!
    }
    func unmapDMA(_ region: DMAMemory) throws {}
    func reset() throws {}

    private func byte() -> UInt8? {
        guard position < input.count else { return nil }
        defer { position += 1 }
        return input[position]
    }

    /// The PF: answers a raised REQ with input words and control bits; the VF reset bit clears.
    func delay(microseconds: Int) {
        memory.storeBytes(of: memory.load(as: UInt32.self) & ~0x0400_0000, as: UInt32.self)
        let value = memory.load(fromByteOffset: control, as: UInt32.self)
        guard value & 0x01 != 0, let count = byte() else { return }
        let request = memory.load(fromByteOffset: words, as: UInt32.self)
        for i in 0..<Int(count % 17) {
            var word: UInt32 = 0
            for _ in 0..<4 { word = word << 8 | UInt32(byte() ?? 0) }
            // Word 0: mostly the request's type with the PF's flag bits, sometimes anything.
            if i == 0 && word & 0x8000 == 0 { word = request & 0xFFFF | word & 0xE0FF_0000 }
            memory.storeBytes(of: word, toByteOffset: words + 4 * i, as: UInt32.self)
        }
        let flags = UInt32(byte() ?? 0x30)
        memory.storeBytes(of: (value & ~0x03) | flags & 0xF0 | 0x30 & (flags << 4), toByteOffset: control, as: UInt32.self)
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzMailboxReply(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 1 else { return 0 }
    let function = FuzzedFunction(igb: data[0] & 1 != 0, input: Array(UnsafeBufferPointer(start: data + 1, count: size - 1)))
    var config = VFPortConfiguration()
    config.rxDescriptors = 64
    config.txDescriptors = 64
    config.poolSize = 256
    config.pages = .smallPages
    config.vlanIDs = [5]
    config.allMulticast = data[0] & 2 != 0
    do {
        let port = try VFPort(function: function, configuration: config)
        try? port.start()
        port.updateStats()
        port.close()
        for pool in port.rxPools {
            precondition(pool.available == pool.capacity, "pool not whole after close")
        }
    } catch is VFDriverError {
    } catch {
        preconditionFailure("not a VFDriverError: \(error)")
    }
    return 0
}
