import ArgumentParser
import Foundation

#if os(Linux)
import CEpoll
import Glibc
import NIOCore
import NIOPosix
#endif

/// `loopback`: the round-trip floor of the machine's loopback TCP, the bound of every RPC workload as `fsync` is
/// the bound of a hand-off.
///
/// A raw echo server (a child process of this one) and a closed-loop driver, each one thread on `epoll`, with no
/// RPC layer, no protobuf and no allocation per call: what remains is the kernel's `read`, `write` and wake-ups
/// and the two processes sharing the cores. `ping` over the same number of connections cannot go faster than this.
struct LoopbackProbe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "loopback",
        abstract: "Measure closed-loop round trips over loopback TCP with no RPC layer: the ceiling of ping.",
        discussion: """
            Starts a minimal echo server (this executable, as a child process: one thread, epoll, one read and \
            one write per request) on an ephemeral 127.0.0.1 port, then drives it from one thread: each of \
            --connections sends --request-size bytes and waits for --response-size bytes before sending again. \
            The defaults are the sizes of a KeepAlive call and its answer on the wire, so this is ping with \
            everything above the socket taken away. Reports round trips/s, latency, and the CPU per round trip \
            of both processes.
            """
    )

    @Option(help: "TCP connections, one request in flight on each.")
    var connections = 64

    @Option(help: "Bytes of each request (a KeepAlive frame is 49).")
    var requestSize = 49

    @Option(help: "Bytes of each response (a KeepAlive answer is 20).")
    var responseSize = 20

    @OptionGroup var window: WindowOptions

    /// What answers the driver.
    enum ServerKind: String, ExpressibleByArgument, CaseIterable {
        /// One thread on `epoll`, one `read` and one `write` per request: the kernel's floor.
        case raw
        /// A SwiftNIO channel handler on one event loop, answering each read burst with one write and flush, as
        /// Leasehold's RPC server does: SwiftNIO's own cost, without the RPC layer.
        case nio

        var label: String { self == .raw ? "raw echo" : "SwiftNIO echo" }
    }

    @Option(
        help: ArgumentHelp(
            "The echo server: raw (epoll, the kernel's floor) or nio (a SwiftNIO handler on one event loop).",
            discussion: "nio shows what SwiftNIO itself costs per call, below Leasehold's RPC layer."
        )
    )
    var serverKind = ServerKind.raw

    @Flag(help: .hidden)
    var echoServer = false

    @OptionGroup var output: OutputOptions

    func validate() throws {
        guard (1...4_096).contains(self.connections) else { throw ValidationError("--connections must be 1...4096") }
        guard (1...65_536).contains(self.requestSize), (1...65_536).contains(self.responseSize) else {
            throw ValidationError("--request-size and --response-size must be 1...65536")
        }
    }

    func run() async throws {
        #if os(Linux)
        try await self.measure()
        #else
        throw ValidationError("loopback runs on Linux only: its driver and raw echo server use epoll")
        #endif
    }
}

#if os(Linux)
extension LoopbackProbe {
    private func measure() async throws {
        if self.echoServer {
            switch self.serverKind {
            case .raw: try EchoServer(requestSize: self.requestSize, responseSize: self.responseSize).run()
            case .nio: try await NIOEchoServer.run(requestSize: self.requestSize, responseSize: self.responseSize)
            }
        }
        let server = try EchoServerProcess.start(
            kind: self.serverKind,
            requestSize: self.requestSize,
            responseSize: self.responseSize
        )
        defer { server.stop() }

        var driver = try EchoDriver(
            port: server.port,
            connections: self.connections,
            requestSize: self.requestSize,
            responseSize: self.responseSize
        )
        let measured = try driver.run(
            window: Window(warmup: self.window.warmup.duration, duration: self.window.duration.duration),
            serverPID: server.pid
        )

        var report = Report(
            workload: "loopback floor (\(self.connections) conns, \(self.serverKind.label))",
            server: ServerInfo(address: "127.0.0.1:\(server.port)", pid: server.pid, commandLine: nil, sync: "–"),
            parameters: [
                "connections": "\(self.connections)", "serverKind": self.serverKind.rawValue,
                "requestSize": "\(self.requestSize)",
                "responseSize": "\(self.responseSize)", "duration": self.window.duration.description,
                "warmup": self.window.warmup.description,
            ]
        )
        guard measured.seconds > 0 else { throw ProbeFailed(message: "the measured window never opened") }
        let perSecond = Double(measured.roundTrips) / measured.seconds
        report.figures = [
            "roundTrips": Double(measured.roundTrips), "roundTripsPerSecond": perSecond.rounded(toPlaces: 1),
        ]
        report.latencies = ["roundTrip": LatencySummary(measured.latency)]
        report.resources = measured.usage
        report.row("round trips/s", value: Format.count(perSecond))
        report.row("round-trip latency", latency: report.latencies["roundTrip"]!)
        report.serverCPUPerOperation("round trip", perSecond: perSecond)
        report.cpuPerOperation(
            of: "driver",
            percentOfOneCore: measured.usage.loadGeneratorCPUPercentOfOneCore,
            operation: "round trip",
            perSecond: perSecond
        )
        report.notes.append(
            "echo server and driver: one thread each, epoll, one read and one write per request; no RPC layer"
        )
        try report.emit(output: self.output)
    }
}

/// The floor's echo server: answers every `requestSize` bytes read on a connection with `responseSize` bytes.
/// Runs until its parent (the driver) goes away.
private struct EchoServer {
    let requestSize: Int
    let responseSize: Int

    func run() throws -> Never {
        let parent = getppid()
        let listener = try Socket.listen()
        FileHandle.standardOutput.write(Data("port \(try Socket.port(of: listener))\n".utf8))

        let poller = try Poller()
        try poller.add(listener, tag: UInt64(UInt32(bitPattern: listener)))
        let response = [UInt8](repeating: 0x2A, count: self.responseSize)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 8)
        var received: [Int32: Int] = [:]
        while true {
            let ready = poller.wait(timeoutMilliseconds: 1_000)
            if ready == 0, getppid() != parent { exit(0) }
            for event in 0..<ready {
                let descriptor = Int32(truncatingIfNeeded: poller.tag(event))
                if descriptor == listener {
                    let accepted = accept(listener, nil, nil)
                    guard accepted >= 0 else { continue }
                    Socket.configure(accepted)
                    try poller.add(accepted, tag: UInt64(UInt32(bitPattern: accepted)))
                    received[accepted] = 0
                    continue
                }
                let count = read(descriptor, buffer.baseAddress, buffer.count)
                if count <= 0 {
                    if count < 0, errno == EAGAIN { continue }
                    close(descriptor)
                    received[descriptor] = nil
                    continue
                }
                var pending = received[descriptor, default: 0] + count
                while pending >= self.requestSize {
                    pending -= self.requestSize
                    try Socket.writeAll(descriptor, response)
                }
                received[descriptor] = pending
            }
        }
    }
}

/// The floor's echo server on SwiftNIO: one event loop, one handler per connection that answers a read burst with
/// one write and one flush from a reused buffer (as Leasehold's `ServerConnectionHandler` does with its outbox).
private enum NIOEchoServer {
    final class Handler: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer

        let requestSize: Int
        let response: [UInt8]
        private var received = 0
        private var outbox = ByteBuffer()

        init(requestSize: Int, responseSize: Int) {
            self.requestSize = requestSize
            self.response = [UInt8](repeating: 0x2A, count: responseSize)
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            self.received += Self.unwrapInboundIn(data).readableBytes
            while self.received >= self.requestSize {
                self.received -= self.requestSize
                self.outbox.writeBytes(self.response)
            }
        }

        func channelReadComplete(context: ChannelHandlerContext) {
            guard self.outbox.readableBytes > 0 else { return }
            context.writeAndFlush(Self.wrapOutboundOut(self.outbox), promise: nil)
            self.outbox.clear()
        }
    }

    static func run(requestSize: Int, responseSize: Int) async throws -> Never {
        let parent = getppid()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        Handler(requestSize: requestSize, responseSize: responseSize)
                    )
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        FileHandle.standardOutput.write(Data("port \(channel.localAddress?.port ?? 0)\n".utf8))
        while getppid() == parent { try await Task.sleep(for: .seconds(1)) }
        exit(0)
    }
}

/// The echo server as a child process of this executable.
private struct EchoServerProcess {
    let process: Process
    let port: Int
    var pid: Int32 { self.process.processIdentifier }

    static func start(kind: LoopbackProbe.ServerKind, requestSize: Int, responseSize: Int) throws -> EchoServerProcess {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        process.arguments = [
            "loopback", "--echo-server", "--server-kind", kind.rawValue, "--request-size", "\(requestSize)",
            "--response-size", "\(responseSize)",
        ]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = pipe.fileHandleForReading.availableData
            guard !chunk.isEmpty else { break }
            line.append(chunk)
        }
        let text = String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard text.hasPrefix("port "), let port = Int(text.dropFirst(5)) else {
            process.terminate()
            throw ProbeFailed(message: "the echo server did not report its port (got \"\(text)\")")
        }
        return EchoServerProcess(process: process, port: port)
    }

    func stop() {
        kill(self.pid, SIGKILL)
        self.process.waitUntilExit()
    }
}

/// The closed-loop driver: one thread, `connections` sockets, one request in flight on each.
private struct EchoDriver {
    struct Measured {
        var roundTrips = 0
        var seconds = 0.0
        var latency = makeLatencyHistogram()
        var usage = ResourceUsage(loadGeneratorCPUPercentOfOneCore: 0)
    }

    let requestSize: Int
    let responseSize: Int
    private var sockets: [Int32] = []
    private let poller: Poller

    init(port: Int, connections: Int, requestSize: Int, responseSize: Int) throws {
        self.requestSize = requestSize
        self.responseSize = responseSize
        self.poller = try Poller()
        for index in 0..<connections {
            let socket = try Socket.connect(port: port)
            self.sockets.append(socket)
            try self.poller.add(socket, tag: UInt64(index))
        }
    }

    mutating func run(window: Window, serverPID: Int32) throws -> Measured {
        defer { for socket in self.sockets { close(socket) } }
        let request = [UInt8](repeating: 0x15, count: self.requestSize)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 8)
        defer { buffer.deallocate() }
        var received = [Int](repeating: 0, count: self.sockets.count)
        var sentAt = [UInt64](repeating: 0, count: self.sockets.count)
        var measured = Measured()
        var meter: ResourceMeter?
        var windowStart: UInt64 = 0

        for (index, socket) in self.sockets.enumerated() {
            sentAt[index] = monotonicNanos()
            try Socket.writeAll(socket, request)
        }
        while true {
            let ready = self.poller.wait(timeoutMilliseconds: 100)
            let now = monotonicNanos()
            if meter == nil, window.contains(now) {
                meter = ResourceMeter(serverPID: serverPID)
                windowStart = now
            }
            if now >= window.measureEnd {
                measured.usage = meter?.finish() ?? measured.usage
                measured.seconds = Double(now - windowStart) / 1e9
                return measured
            }
            for event in 0..<ready {
                let index = Int(self.poller.tag(event))
                let socket = self.sockets[index]
                let count = read(socket, buffer.baseAddress, buffer.count)
                if count < 0, errno == EAGAIN { continue }
                guard count > 0 else { throw ProbeFailed(message: "the echo server closed a connection") }
                received[index] += count
                guard received[index] >= self.responseSize else { continue }
                received[index] -= self.responseSize
                let answered = monotonicNanos()
                if meter != nil {
                    measured.roundTrips += 1
                    measured.latency.recordClamped(answered - sentAt[index])
                }
                sentAt[index] = answered
                try Socket.writeAll(socket, request)
            }
        }
    }
}

/// A level-triggered `epoll` set whose events carry a caller's tag.
private final class Poller {
    private let descriptor: Int32
    private var events = [epoll_event](repeating: epoll_event(), count: 256)

    init() throws {
        self.descriptor = epoll_create1(0)
        guard self.descriptor >= 0 else { throw ProbeFailed(message: "epoll_create1 failed: errno \(errno)") }
    }

    deinit { close(self.descriptor) }

    func add(_ socket: Int32, tag: UInt64) throws {
        var event = epoll_event()
        event.events = EPOLLIN.rawValue
        event.data.u64 = tag
        guard epoll_ctl(self.descriptor, EPOLL_CTL_ADD, socket, &event) == 0 else {
            throw ProbeFailed(message: "epoll_ctl failed: errno \(errno)")
        }
    }

    /// Waits up to `timeoutMilliseconds` for a readable socket; returns how many are ready (their tags are
    /// ``tag(_:)`` of `0..<count`).
    func wait(timeoutMilliseconds: Int32) -> Int {
        let count = self.events.withUnsafeMutableBufferPointer {
            epoll_wait(self.descriptor, $0.baseAddress, Int32($0.count), timeoutMilliseconds)
        }
        return max(0, Int(count))
    }

    func tag(_ index: Int) -> UInt64 { self.events[index].data.u64 }
}

/// The few socket calls the probe makes, on 127.0.0.1 only.
private enum Socket {
    static func listen() throws -> Int32 {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard socket >= 0 else { throw ProbeFailed(message: "socket failed: errno \(errno)") }
        var address = Self.loopback(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, Glibc.listen(socket, 4_096) == 0 else {
            throw ProbeFailed(message: "bind/listen on 127.0.0.1 failed: errno \(errno)")
        }
        return socket
    }

    static func port(of socket: Int32) throws -> Int {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let result = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket, $0, &length) }
        }
        guard result == 0 else { throw ProbeFailed(message: "getsockname failed: errno \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    static func connect(port: Int) throws -> Int32 {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw ProbeFailed(message: "socket failed: errno \(errno)") }
        var address = Self.loopback(port: port)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { throw ProbeFailed(message: "connect to 127.0.0.1:\(port) failed: errno \(errno)") }
        Self.configure(socket)
        return socket
    }

    /// No Nagle delay (as SwiftNIO's sockets), and non-blocking reads.
    static func configure(_ socket: Int32) {
        var on: Int32 = 1
        setsockopt(socket, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))
        _ = fcntl(socket, F_SETFL, fcntl(socket, F_GETFL) | O_NONBLOCK)
    }

    /// Writes all of `bytes`; a small message on a socket with nothing else in flight always fits, so a short
    /// write is reported rather than waited out.
    static func writeAll(_ socket: Int32, _ bytes: [UInt8]) throws {
        let written = bytes.withUnsafeBytes { write(socket, $0.baseAddress, $0.count) }
        guard written == bytes.count else {
            throw ProbeFailed(message: "write of \(bytes.count) bytes returned \(written) (errno \(errno))")
        }
    }

    private static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port)).bigEndian
        address.sin_addr.s_addr = in_addr_t(0x7F00_0001).bigEndian
        return address
    }
}
#endif
