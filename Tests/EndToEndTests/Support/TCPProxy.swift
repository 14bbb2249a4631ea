import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A TCP proxy on 127.0.0.1 that forwards every connection to one loopback upstream until it is cut: from then on
/// it forwards nothing in either direction and connects new clients to nothing, while keeping every socket open.
/// To the proxied process that is a network that went silent (no reset, no answer), the hardest cut to notice.
///
/// ```swift
/// let proxy = try TCPProxy(upstreamPort: cluster.port)
/// defer { proxy.stop() }
/// // point the node at 127.0.0.1:\(proxy.port) … then:
/// proxy.cut()
/// ```
final class TCPProxy: Sendable {
    private struct State {
        var cut = false
        var stopped = false
        var sockets: [Int32] = []
    }

    /// The port the proxy listens on.
    let port: Int
    private let upstreamPort: Int
    private let listener: Int32
    private let state = Mutex(State())

    /// Listens on 127.0.0.1 and a port the kernel picks, forwarding to `127.0.0.1:upstreamPort`.
    init(upstreamPort: Int) throws {
        self.upstreamPort = upstreamPort
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ProxyFailure("socket: errno \(errno)") }
        var address = Self.loopback(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, listen(fd, 64) == 0 else {
            close(fd)
            throw ProxyFailure("bind/listen: errno \(errno)")
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        self.port = Int(UInt16(bigEndian: address.sin_port))
        self.listener = fd
        let thread = Thread { [self] in self.acceptLoop() }
        thread.start()
    }

    /// From now on nothing passes, and sockets stay open.
    func cut() { self.state.withLock { $0.cut = true } }

    /// Closes every socket; the proxy's threads end.
    func stop() {
        let sockets = self.state.withLock { state -> [Int32] in
            guard !state.stopped else { return [] }
            state.stopped = true
            return state.sockets + [self.listener]
        }
        // shutdown wakes the threads blocked in accept and read; they close their own descriptors.
        for fd in sockets { shutdown(fd, Int32(SHUT_RDWR)) }
    }

    private var isCut: Bool { self.state.withLock { $0.cut || $0.stopped } }

    /// Registers an open socket, or returns false (and closes it) when the proxy has stopped.
    private func register(_ fd: Int32) -> Bool {
        let kept = self.state.withLock { state -> Bool in
            guard !state.stopped else { return false }
            state.sockets.append(fd)
            return true
        }
        if !kept { close(fd) }
        return kept
    }

    private func acceptLoop() {
        while true {
            let client = accept(self.listener, nil, nil)
            if client < 0 {
                if errno == EINTR { continue }
                close(self.listener)
                return
            }
            guard self.register(client) else { continue }
            // A cut network: the connection is accepted, and nothing ever comes back.
            if self.isCut { continue }
            let upstream = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = Self.loopback(port: self.upstreamPort)
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(upstream, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            guard upstream >= 0, connected == 0, self.register(upstream) else {
                if upstream >= 0 { close(upstream) }
                shutdown(client, Int32(SHUT_RDWR))
                continue
            }
            Thread { [self] in self.pump(from: client, to: upstream) }.start()
            Thread { [self] in self.pump(from: upstream, to: client) }.start()
        }
    }

    /// Copies bytes until either side closes; once cut, reads and drops them.
    private func pump(from source: Int32, to destination: Int32) {
        var buffer = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(source, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { break }
            if self.isCut { continue }
            var sent = 0
            while sent < count {
                let written = buffer.withUnsafeBytes {
                    send(destination, $0.baseAddress! + sent, count - sent, Int32(MSG_NOSIGNAL))
                }
                if written < 0, errno == EINTR { continue }
                guard written > 0 else { break }
                sent += written
            }
        }
        // Half-close the other way only while forwarding: a cut network carries no FIN either.
        if !self.isCut { shutdown(destination, Int32(SHUT_WR)) }
    }

    private static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }
}

/// The proxy could not listen.
struct ProxyFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
