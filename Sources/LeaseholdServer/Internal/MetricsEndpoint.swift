import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Prometheus

/// Serves `GET /metrics` in the Prometheus text format (`--metrics-listen`).
///
/// What it serves comes from ``ServerMetrics/render()``, assembled at scrape time.
final class MetricsEndpoint: Sendable {
    private let channel: any Channel

    private init(channel: any Channel) { self.channel = channel }

    var localAddress: SocketAddress? { self.channel.localAddress }

    static func start(
        host: String,
        port: Int,
        render: @escaping @Sendable () -> [UInt8],
        logger: Logger
    ) async throws -> MetricsEndpoint {
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
            context.write(
                Self.wrapOutboundOut(
                    .head(HTTPResponseHead(version: .http1_1, status: found ? .ok : .notFound, headers: headers))
                ),
                promise: nil
            )
            context.write(Self.wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: body)))), promise: nil)
            context.writeAndFlush(Self.wrapOutboundOut(.end(nil)), promise: nil)
        }
    }
}

@available(*, unavailable)
extension MetricsHandler: Sendable {}
