import PropertyBased
import Testing
@testable import Apps

/// `--metrics` values: a port alone, an IPv4 address and port, an IPv6 address in brackets
/// and port; everything else, hostile text included, is one sentence that names the value.
@Suite("--metrics address parsing, property-based")
struct MetricsAddressPropertyTests {
    /// Ports as users type them, clumsy and hostile ones included.
    static var ports: Generator<String, some Sequence & SendableMetatype> { Gen.oneOf(
        Gen.int(in: -5...70_000).map { String($0) },
        Gen.int(in: Int.min...Int.max).map { String($0) },
        Gen.double(in: -1e6...1e6).map { String($0) },
        Gen.element(of: ["inf", "-inf", "nan", "1e300", "-0", "0", "00", "65535", "65536", "1", "+80", "0x50",
                         "", " 80", "80 ", "٨٠", "18446744073709551616", "009469"]).compactMap { $0 }) }

    /// Whether `text` is a port `--metrics` takes: decimal ASCII digits naming 1...65535.
    static func isPort(_ text: String) -> Bool {
        !text.isEmpty && text.allSatisfy { ("0"..."9").contains($0) } && (UInt16(text) ?? 0) > 0
    }

    @Test("a port, alone or after an IPv4 or IPv6 address, is taken exactly when it is 1...65535 in digits")
    func portRange() async {
        await propertyCheck(count: 500, input: Self.ports) { port in
            for (head, host) in [("", MetricsAddress.Host.ipv4("127.0.0.1")), ("0.0.0.0:", .ipv4("0.0.0.0")),
                                 ("127.0.0.1:", .ipv4("127.0.0.1")), ("[::1]:", .ipv6("::1"))] {
                let text = head + port
                do {
                    let address = try MetricsAddress(parsing: text)
                    #expect(Self.isPort(port), "\(text) was taken")
                    #expect(address == MetricsAddress(host: host, port: UInt16(port) ?? 0))
                } catch {
                    #expect(!Self.isPort(port), "\(text): \(error)")
                    #expect("\(error)".hasPrefix("--metrics \(text): "))
                    #expect(!"\(error)".contains("\n"))
                }
            }
        }
    }

    @Test("any IPv4 address with any port reads back as written")
    func ipv4RoundTrip() async {
        await propertyCheck(count: 300, input: Gen.int(in: 0...255), Gen.int(in: 0...255), Gen.int(in: 0...255),
                            Gen.int(in: 1...65_535)) { a, b, c, port in
            let text = "\(a).\(b).\(c).\(a ^ c):\(port)"
            let address = try? MetricsAddress(parsing: text)
            #expect(address?.description == text)
            #expect(address?.port == UInt16(port))
        }
    }

    @Test("any IPv6 address in brackets with any port reads back as written")
    func ipv6RoundTrip() async {
        await propertyCheck(count: 300, input: Gen.int(in: 0...0xFFFF), Gen.int(in: 0...0xFFFF), Gen.int(in: 1...65_535)) { x, y, port in
            let ip = "fd00:\(String(x, radix: 16))::\(String(y, radix: 16)):1"
            let text = "[\(ip)]:\(port)"
            let address = try? MetricsAddress(parsing: text)
            #expect(address == MetricsAddress(host: .ipv6(ip), port: UInt16(port)))
            #expect(address?.description == text)
            // Without brackets the colons are ambiguous: refused with a sentence saying so.
            #expect(throws: MetricsAddressError.self) { try MetricsAddress(parsing: "\(ip):\(port)") }
        }
    }

    @Test("hostile text never crashes: it parses, or it is one sentence naming the value")
    func hostileText() async {
        let alphabet = Array("0123456789.:[]abcdefxyz-+e% \u{0}é")
        let text = Gen.element(of: alphabet).compactMap { $0 }.array(of: 0...24).map { String($0) }
        await propertyCheck(count: 1_000, input: text) { text in
            do {
                let address = try MetricsAddress(parsing: text)
                #expect(address.port > 0)
                // What parsed reads back as the same address.
                #expect(try MetricsAddress(parsing: address.description) == address)
            } catch {
                #expect("\(error)".hasPrefix("--metrics \(text): "))
                #expect("\(error)".split(separator: "\n").count <= 1)
            }
        }
    }

    @Test("the values the documentation names", arguments: [
        ("9469", "127.0.0.1:9469"), ("127.0.0.1:9469", "127.0.0.1:9469"), ("[::1]:9469", "[::1]:9469"),
        ("0.0.0.0:9469", "0.0.0.0:9469"), ("localhost:9469", "127.0.0.1:9469"), ("[::]:1", "[::]:1"),
    ])
    func documented(text: String, address: String) throws {
        #expect(try MetricsAddress(parsing: text).description == address)
    }

    @Test("ports out of range and addresses that do not parse are refused with what to give",
          arguments: ["0", "65536", "-1", "1e300", "inf", "127.0.0.1:0", "[::1]:65536", "127.0.0.1", "::1", "[::1]",
                      "[::1]9469", "example.com:9469", "256.0.0.1:9469", ":9469", "[fe80::1:9469", "1.2.3:9469", ""])
    func refused(text: String) {
        #expect {
            try MetricsAddress(parsing: text)
        } throws: { error in
            "\(error)".hasPrefix("--metrics \(text): ") && "\(error)".hasSuffix("give PORT, ADDR:PORT or [IPV6]:PORT with a port from 1 to 65535")
        }
    }
}
