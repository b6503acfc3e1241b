// libFuzzer target: the port-spec parser on arbitrary text. A spec parses, or fails with a
// PortSpecError whose sentence names the spec; anything else is a crash.
import Apps

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPortSpec(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    do {
        let spec = try PortSpec(parsing: text)
        precondition(spec.text == text)
    } catch {
        precondition(!error.description.isEmpty)
    }
    return 0
}
