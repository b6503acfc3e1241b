// libFuzzer target: the pcap reader on arbitrary file contents. Every input either reads as
// frames no longer than the file or fails with a PcapError; anything else is a crash.
import Foundation
import PcapIO

let path = "/tmp/vfpmd-fuzz-pcap-\(getpid()).pcap"

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPcapReader(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    guard fd >= 0 else { return 0 }
    _ = write(fd, data, size)
    close(fd)
    guard let reader = try? PcapReader(path: path) else { return 0 }
    defer { reader.close() }
    var total = 0
    while let frame = try? reader.next() {
        total += frame.bytes.count
        precondition(total <= size, "the reader returned more bytes than the file holds")
    }
    return 0
}
