import Foundation
import LeaseholdCore
import LeaseholdRPC
import LeaseholdServer
import NIOCore
import NIOPosix

/// Reads `GET /sessions` from a server's metrics endpoint (`serve --metrics-listen`): the live sessions closest to
/// expiry (a ``SessionsReport``, the type the server encodes), for `leasehold top`. One short HTTP/1.1 request per
/// refresh, on a connection closed after the answer.
enum SessionsFetch {
    /// What went wrong, in words for the screen.
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Fetches the `limit` sessions closest to expiry.
    /// - Parameters:
    ///   - address: The metrics endpoint.
    ///   - limit: At most this many sessions.
    ///   - timeout: How long the whole exchange may take.
    /// - Returns: The sessions, soonest to expire first.
    /// - Throws: ``Failure`` when the endpoint cannot be reached or answers something else; NIO's errors.
    static func fetch(from address: HostAndPort, limit: Int, timeout: Duration) async throws -> [TopState.Expiring] {
        let response = try await Self.get(
            "/sessions?limit=\(limit)",
            from: address,
            timeout: TimeAmount.milliseconds(timeout.wholeMilliseconds)
        )
        return try Self.decode(response)
    }

    /// The sessions of an HTTP response (head and body as received).
    /// - Parameter response: The bytes of the whole response.
    /// - Returns: The sessions, in the answer's order.
    /// - Throws: ``Failure`` when it is not a 200 with the expected JSON.
    static func decode(_ response: [UInt8]) throws -> [TopState.Expiring] {
        let separator: [UInt8] = Array("\r\n\r\n".utf8)
        guard let end = response.indices.first(where: { response[$0...].starts(with: separator) }) else {
            throw Failure(description: "GET /sessions: the answer ended before its headers did")
        }
        let head = String(decoding: response[..<end], as: UTF8.self)
        let status = head.split(separator: "\r\n").first.map(String.init) ?? ""
        guard status.split(separator: " ").dropFirst().first == "200" else {
            throw Failure(description: "GET /sessions: \(status) (a server older than this top?)")
        }
        do {
            let report = try JSONDecoder().decode(SessionsReport.self, from: Data(response[(end + separator.count)...]))
            return report.sessions.map {
                TopState.Expiring(
                    sessionID: SessionID($0.sessionID),
                    owner: $0.owner,
                    name: $0.name,
                    ttl: .milliseconds($0.ttlMilliseconds),
                    expiresIn: .milliseconds($0.expiresInMilliseconds),
                    locks: $0.locks
                )
            }
        } catch {
            throw Failure(description: "GET /sessions: not the expected JSON (\(error))")
        }
    }

    private static func get(_ target: String, from address: HostAndPort, timeout: TimeAmount) async throws -> [UInt8] {
        let group = MultiThreadedEventLoopGroup.singleton
        let received = group.any().makePromise(of: [UInt8].self)
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: group)
                .connectTimeout(timeout)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(CollectHandler(promise: received))
                    }
                }
                .connect(host: address.host, port: address.port)
                .get()
        } catch {
            received.fail(error)
            throw Failure(description: "GET /sessions: cannot connect to \(address): \(error)")
        }
        let deadline = channel.eventLoop.scheduleTask(in: timeout) {
            received.fail(Failure(description: "GET /sessions: no answer within \(timeout)"))
            channel.close(promise: nil)
        }
        defer { deadline.cancel() }
        let request = "GET \(target) HTTP/1.1\r\nHost: \(address)\r\nConnection: close\r\n\r\n"
        try await channel.writeAndFlush(ByteBuffer(string: request))
        return try await received.futureResult.get()
    }
}

/// Collects the response: complete once the body that `Content-Length` announces is in, or when the server closes.
private final class CollectHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let promise: EventLoopPromise<[UInt8]>
    private var bytes: [UInt8] = []

    init(promise: EventLoopPromise<[UInt8]>) { self.promise = promise }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = Self.unwrapInboundIn(data)
        self.bytes += buffer.readBytes(length: buffer.readableBytes) ?? []
        if Self.isComplete(self.bytes) {
            self.promise.succeed(self.bytes)
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.promise.succeed(self.bytes)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.promise.fail(error)
        context.close(promise: nil)
    }

    /// Whether `bytes` hold the whole head and as much body as its `Content-Length` says.
    static func isComplete(_ bytes: [UInt8]) -> Bool {
        let text = String(decoding: bytes, as: UTF8.self)
        guard let end = text.range(of: "\r\n\r\n") else { return false }
        let length = text[..<end.lowerBound].lowercased().split(separator: "\r\n").lazy
            .compactMap { line -> Int? in
                guard line.hasPrefix("content-length:") else { return nil }
                return Int(line.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces))
            }
            .first
        guard let length else { return false }
        return text[end.upperBound...].utf8.count >= length
    }
}

@available(*, unavailable)
extension CollectHandler: Sendable {}
