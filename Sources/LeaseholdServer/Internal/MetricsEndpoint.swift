import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Prometheus

/// Serves `GET /metrics` in the Prometheus text format (`--metrics-listen`), and `GET /sessions[?limit=N]`, the
/// live sessions closest to expiry as JSON (``SessionsReport``), which `leasehold top` shows.
///
/// What it serves comes from ``ServerMetrics/render()`` and ``LockService/sessionsClosestToExpiry(limit:)``,
/// assembled per request.
final class MetricsEndpoint: Sendable {
    private let channel: any Channel

    private init(channel: any Channel) { self.channel = channel }

    var localAddress: SocketAddress? { self.channel.localAddress }

    static func start(
        host: String,
        port: Int,
        render: @escaping @Sendable () -> [UInt8],
        sessions: @escaping @Sendable (Int) -> [UInt8],
        logger: Logger
    ) async throws -> MetricsEndpoint {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline().flatMapThrowing {
                    try channel.pipeline.syncOperations.addHandler(MetricsHandler(render: render, sessions: sessions))
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
    private let sessions: @Sendable (Int) -> [UInt8]
    private var target = ""

    init(render: @escaping @Sendable () -> [UInt8], sessions: @escaping @Sendable (Int) -> [UInt8]) {
        self.render = render
        self.sessions = sessions
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch Self.unwrapInboundIn(data) {
        case .head(let head):
            self.target = head.method == .GET ? head.uri : ""
        case .body:
            break
        case .end:
            let (status, contentType, body) = self.respond(to: self.target)
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: contentType)
            headers.add(name: "Content-Length", value: String(body.count))
            context.write(
                Self.wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))),
                promise: nil
            )
            context.write(Self.wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: body)))), promise: nil)
            context.writeAndFlush(Self.wrapOutboundOut(.end(nil)), promise: nil)
        }
    }

    /// The status, content type and body for a request target (empty for a method other than GET).
    private func respond(to target: String) -> (HTTPResponseStatus, String, [UInt8]) {
        let parts = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        switch parts.first {
        case "/metrics":
            return (.ok, "text/plain; version=0.0.4", self.render())
        case "/sessions":
            guard let limit = SessionsReport.limit(query: parts.count > 1 ? parts[1] : nil) else {
                let message = "limit must be a whole number from 1 to \(SessionsReport.maxLimit)\n"
                return (.badRequest, "text/plain", Array(message.utf8))
            }
            return (.ok, "application/json", self.sessions(limit))
        default:
            return (.notFound, "text/plain", Array("not found; try GET /metrics or GET /sessions\n".utf8))
        }
    }
}

@available(*, unavailable)
extension MetricsHandler: Sendable {}
