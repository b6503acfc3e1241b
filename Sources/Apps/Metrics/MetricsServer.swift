import Dispatch
import FlyingFox
import FlyingSocks
import Foundation
import Synchronization

/// The HTTP endpoint of `--metrics`: serves `GET /metrics` in the Prometheus text exposition
/// format from a `MetricsBoard`, on the cooperative threads of Swift's concurrency runtime
/// (never on a datapath thread), until `stop()`.
public final class MetricsServer: Sendable {
    private let server: HTTPServer
    private let running: Task<Void, any Error>

    /// The content type of the text exposition format, version 0.0.4.
    static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    /// Listens on `address` and serves what `board` holds; returns once the socket listens.
    /// Throws a sentence when it cannot (the port is in use, the address is not this host's).
    public init(address: MetricsAddress, board: MetricsBoard) throws(MetricsServerError) {
        let handler = ClosureHTTPHandler { request in
            guard request.method == .GET, request.path == "/metrics" else {
                return HTTPResponse(statusCode: .notFound, body: Data("only GET /metrics is served here\n".utf8))
            }
            return HTTPResponse(statusCode: .ok, headers: [.contentType: Self.contentType],
                                body: Data(board.snapshot.exposition))
        }
        // The poll(2) pool, not the epoll one: FlyingFox 0.27's epoll pool leaves its eventfd
        // open when stopped. Every 10 ms (its default) it looks again at sockets added meanwhile.
        let pool = SocketPool<Poll>.poll(interval: .seconds(0.01))
        let server: HTTPServer
        do {
            server = switch address.host {
            case .ipv4(let ip):
                HTTPServer(address: try .inet(ip4: ip, port: address.port), timeout: 5, pool: pool,
                           logger: DisabledLogger.disabled, handler: handler)
            case .ipv6(let ip):
                HTTPServer(address: try .inet6(ip6: ip, port: address.port), timeout: 5, pool: pool,
                           logger: DisabledLogger.disabled, handler: handler)
            }
        } catch {
            throw MetricsServerError(address: address, reason: Self.reason(error))
        }
        self.server = server
        let failure = Mutex<(any Error)?>(nil)
        let settled = DispatchSemaphore(value: 0)
        running = Task {
            do { try await server.run() } catch {
                failure.withLock { $0 = error }
                settled.signal()
                throw error
            }
        }
        Task {
            try? await server.waitUntilListening(timeout: 5)
            settled.signal()
        }
        settled.wait()
        if let error = failure.withLock({ $0 }) {
            throw MetricsServerError(address: address, reason: Self.reason(error))
        }
    }

    /// Closes the listening socket and every connection, and waits until the server's tasks ended.
    public func stop() {
        let done = DispatchSemaphore(value: 0)
        let server = self.server, running = self.running
        Task {
            await server.stop(timeout: 0.1)
            _ = try? await running.value
            done.signal()
        }
        done.wait()
    }

    /// What went wrong and what to do, in the system's words (`Address already in use`).
    static func reason(_ error: any Error) -> (reason: String, advice: String) {
        guard let socketError = error as? SocketError, case let .failed(_, errno, message) = socketError else {
            return ("\(error)", "pick another address or port")
        }
        switch errno {
        case EADDRINUSE: return ("the port is in use (\(message))", "pick another port, or stop what listens on it")
        case EADDRNOTAVAIL: return (message, "give an address of this host, such as 127.0.0.1, 0.0.0.0 or [::1]")
        case EACCES: return (message, "ports below 1024 need root (CAP_NET_BIND_SERVICE): pick one from 1024")
        default: return (message, "pick another address or port")
        }
    }
}

/// The metrics endpoint could not listen.
public struct MetricsServerError: Error, CustomStringConvertible {
    /// Where it was asked to listen.
    public var address: MetricsAddress
    /// Why it could not, and what to do.
    public var reason: (reason: String, advice: String)

    public var description: String {
        "--metrics \(address): cannot listen there: \(reason.reason); \(reason.advice)"
    }
}
