#if canImport(Glibc)
import Glibc
#endif

/// Where `--metrics` serves its HTTP endpoint: an IPv4 or IPv6 address and a TCP port.
///
/// `9469` alone is loopback (`127.0.0.1:9469`); `0.0.0.0:9469` listens on every IPv4
/// address; an IPv6 address goes in brackets (`[::1]:9469`). The port is a whole number
/// from 1 to 65535 written in decimal digits.
public struct MetricsAddress: Equatable, Sendable, CustomStringConvertible {
    /// The address family and its text, as `inet_pton(3)` accepts it.
    public enum Host: Equatable, Sendable {
        /// A dotted-quad IPv4 address.
        case ipv4(String)
        /// An IPv6 address (without the brackets).
        case ipv6(String)
    }

    /// The address listened on.
    public var host: Host
    /// The TCP port.
    public var port: UInt16

    /// An address and a port.
    public init(host: Host, port: UInt16) {
        self.host = host
        self.port = port
    }

    /// Parses `ADDR:PORT`, `[IPV6]:PORT` or `PORT`; a refusal says what is wrong in one sentence.
    public init(parsing text: String) throws(MetricsAddressError) {
        func refuse(_ problem: String) -> MetricsAddressError { MetricsAddressError(text: text, problem: problem) }
        let hostText: Substring, portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw refuse("an IPv6 address in brackets needs its closing ]") }
            hostText = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.first == ":" else { throw refuse("give the port after the brackets, as [::1]:9469") }
            portText = rest.dropFirst()
            guard Self.parses(hostText, family: AF_INET6) else { throw refuse("\(hostText) is not an IPv6 address") }
            host = .ipv6(String(hostText))
        } else if let colon = text.lastIndex(of: ":") {
            hostText = text[..<colon]
            portText = text[text.index(after: colon)...]
            if hostText.contains(":") { throw refuse("an IPv6 address goes in brackets, as [::1]:9469") }
            if hostText == "localhost" {
                host = .ipv4("127.0.0.1")
            } else {
                guard Self.parses(hostText, family: AF_INET) else {
                    throw refuse("\(hostText.isEmpty ? "the empty address" : String(hostText)) is not an IPv4 address (give one like 127.0.0.1, or [::1] for IPv6)")
                }
                host = .ipv4(String(hostText))
            }
        } else {
            portText = Substring(text)
            host = .ipv4("127.0.0.1")
        }
        guard !portText.isEmpty, portText.allSatisfy({ $0.isASCII && $0.isNumber }),
              let number = UInt16(portText), number > 0 else {
            throw refuse("the port \(portText.isEmpty ? "is missing" : "\(portText) is not a whole number from 1 to 65535")")
        }
        port = number
    }

    /// Whether `inet_pton(3)` reads `text` as an address of `family` (all of it: a NUL
    /// would end the C string early).
    private static func parses(_ text: Substring, family: Int32) -> Bool {
        guard !text.contains("\0") else { return false }
        var buffer = (UInt64(0), UInt64(0))
        return withUnsafeMutableBytes(of: &buffer) { inet_pton(family, String(text), $0.baseAddress) == 1 }
    }

    /// `127.0.0.1:9469` or `[::1]:9469`.
    public var description: String {
        switch host {
        case .ipv4(let address): "\(address):\(port)"
        case .ipv6(let address): "[\(address)]:\(port)"
        }
    }
}

/// A `--metrics` value that is not an address to listen on.
public struct MetricsAddressError: Error, CustomStringConvertible {
    /// The value as given.
    public var text: String
    /// What is wrong with it.
    public var problem: String

    public var description: String {
        "--metrics \(text): \(problem); give PORT, ADDR:PORT or [IPV6]:PORT with a port from 1 to 65535"
    }
}
