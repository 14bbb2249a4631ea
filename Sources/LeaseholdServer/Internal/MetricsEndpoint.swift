import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Prometheus

/// Serves `GET /metrics` in the Prometheus text format (`--metrics-listen`).
///
/// Gauges are read from the lock service at scrape time, so the hot path pays nothing for them.
final class MetricsEndpoint: Sendable {
    private let channel: any Channel

    private init(channel: any Channel) { self.channel = channel }

    var localAddress: SocketAddress? { self.channel.localAddress }

    /// - Parameters:
    ///   - locks: The lock service, when there is one (a standby has none).
    ///   - leadership: Whether this node is the active one and its epoch, for a node on a shared store.
    static func start(
        host: String, port: Int, locks: @escaping @Sendable () -> LockService?,
        leadership: (@Sendable () -> (isLeader: Bool, epoch: UInt64))?, logger: Logger
    ) async throws -> MetricsEndpoint {
        let registry = PrometheusCollectorRegistry()
        let sessions = registry.makeGauge(descriptor: MetricNameDescriptor(namespace: "leasehold", metricName: "sessions", unitName: "", helpText: "Live sessions."))
        let revision = registry.makeGauge(descriptor: MetricNameDescriptor(namespace: "leasehold", metricName: "revision", unitName: "", helpText: "The current revision (last fencing token)."))
        let leader = leadership.map { _ in registry.makeGauge(descriptor: MetricNameDescriptor(namespace: "leasehold", metricName: "leader", unitName: "", helpText: "1 on the active node, 0 on a standby.")) }
        let epoch = leadership.map { _ in registry.makeGauge(descriptor: MetricNameDescriptor(namespace: "leasehold", metricName: "epoch", unitName: "", helpText: "The epoch of this node's last takeover (0 before any).")) }
        let render: @Sendable () -> [UInt8] = {
            let service = locks()
            sessions.set(Double(service?.sessionCount ?? 0))
            revision.set(Double(service?.revision ?? 0))
            if let leadership {
                let (isLeader, current) = leadership()
                leader?.set(Double(isLeader ? 1 : 0))
                epoch?.set(Double(current))
            }
            var buffer: [UInt8] = []
            registry.emit(into: &buffer)
            return buffer
        }
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline().flatMapThrowing {
                    try channel.pipeline.syncOperations.addHandler(MetricsHandler(render: render))
                }
            }
            .bind(host: host, port: port)
            .get()
        logger.info("serving metrics", metadata: ["address": "\(channel.localAddress!)"])
        return MetricsEndpoint(channel: channel)
    }

    func stop() async { try? await self.channel.close() }
}

private final class MetricsHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let render: @Sendable () -> [UInt8]
    private var path = ""

    init(render: @escaping @Sendable () -> [UInt8]) { self.render = render }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch Self.unwrapInboundIn(data) {
        case .head(let head):
            self.path = head.method == .GET ? head.uri : ""
        case .body:
            break
        case .end:
            let found = self.path == "/metrics"
            let body = found ? self.render() : Array("not found; try GET /metrics\n".utf8)
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: found ? "text/plain; version=0.0.4" : "text/plain")
            headers.add(name: "Content-Length", value: String(body.count))
            context.write(Self.wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: found ? .ok : .notFound, headers: headers))), promise: nil)
            context.write(Self.wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: body)))), promise: nil)
            context.writeAndFlush(Self.wrapOutboundOut(.end(nil)), promise: nil)
        }
    }
}

@available(*, unavailable)
extension MetricsHandler: Sendable {}
