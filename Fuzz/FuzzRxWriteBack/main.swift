// libFuzzer target: RX write-back handling against a hostile device. The input is a stream
// of 16-byte write-back descriptors that a device writes over the ring (any slot, any length,
// any status, DD anywhere, EOP or not) between receive bursts, scattered receive on or off.
// The queue must deliver only lengths within the pool's data room, never hand out a buffer
// twice, and give every buffer back when the ring is released.
@testable import VFDriver
import PMDCore

let ringSize = 64
let pool = try! Mempool(name: "fuzz rx", capacity: 256, dataRoom: 2048, pages: .smallPages)
// nonisolated(unsafe): libFuzzer calls the target from one thread only.
nonisolated(unsafe) let ring = UnsafeMutableRawPointer.allocate(byteCount: ringSize * 16, alignment: 128)
nonisolated(unsafe) let slots = UnsafeMutablePointer<UInt32>.allocate(capacity: ringSize)
nonisolated(unsafe) let tail = UnsafeMutableRawPointer.allocate(byteCount: 4, alignment: 4)
let table = VFFamilyTable.all[0]
let counters = SharedCounters(count: RxQueueCounters.Slot.count)

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRxWriteBack(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 1 else { return 0 }
    pool.regionWasMapped()
    var queue = RxQueue(ring: ring, slots: slots, size: ringSize, pool: pool.ref, tailRegister: tail,
                        bufferSize: data[0] & 1 == 0 ? 2048 : 1024, bits: table.rxBits,
                        stripsTags: data[0] & 4 != 0, queueID: 0, scattered: data[0] & 2 != 0,
                        counters: counters)
    precondition(queue.fillRing())
    var offset = 1
    while offset + 17 <= size {
        // One byte picks the slot, 16 bytes are the write-back the device leaves there.
        let slot = Int(data[offset]) % ringSize
        (ring + slot * 16).copyMemory(from: data + offset + 1, byteCount: 16)
        offset += 17
        var batch = PacketBatch()
        let n = queue.receive(into: &batch)
        precondition(n == batch.count)
        for i in 0..<batch.count {
            precondition(batch[i].length <= pool.ref.dataRoom, "delivered a length beyond the buffer")
            _ = batch[i].flags
        }
    }
    queue.releaseBuffers()
    precondition(pool.available == pool.capacity, "buffers lost: \(pool.capacity - pool.available)")
    precondition(pool.doubleFrees == 0, "a buffer was returned twice")
    return 0
}
