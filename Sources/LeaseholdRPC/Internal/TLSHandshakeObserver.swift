import Logging
import NIOCore
import NIOSSL
import NIOTLS

/// Sits behind the server's `NIOSSLServerHandler`: tells the connection handler who the verified client is once the
/// handshake completes, and turns a failed handshake (a plaintext client, an unknown or missing client certificate)
/// into one log line and a closed connection, with nothing written.
final class TLSHandshakeObserver: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    /// Fired down the pipeline once the handshake has completed.
    struct Completed {
        /// The subject common name of the client's certificate, when the server verified one (mutual TLS).
        var peerCommonName: String?
    }

    private let verifiesClients: Bool
    private let logger: Logger
    private let observer: (any RPCCallObserver)?
    private var handshakeDone = false
    private var refusalCounted = false

    init(verifiesClients: Bool, logger: Logger, observer: (any RPCCallObserver)? = nil) {
        self.verifiesClients = verifiesClients
        self.logger = logger
        self.observer = observer
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard case .handshakeCompleted = event as? TLSUserEvent else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        self.handshakeDone = true
        var commonName: String?
        if self.verifiesClients, let certificate = try? context.pipeline.syncOperations.nioSSL_peerCertificate() {
            // The most significant (last) common name, as certificate checks read it.
            commonName = certificate.subjectName.last { $0.type == .commonName }?.value
        }
        context.fireUserInboundEventTriggered(event)
        context.fireUserInboundEventTriggered(Completed(peerCommonName: commonName))
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        switch error {
        case is NIOSSLError, is BoringSSLError, is NIOSSLExtraError:
            let peer = context.channel.remoteAddress.map { "\($0)" } ?? "?"
            let what = self.handshakeDone ? "TLS error" : "TLS handshake failed"
            // Counted once per connection, before the log line that a reader may wait for.
            if !self.handshakeDone, !self.refusalCounted {
                self.refusalCounted = true
                self.observer?.connectionRefused(.tlsHandshake)
            }
            self.logger.notice("\(what)", metadata: ["peer": "\(peer)", "error": "\(error)"])
            context.close(promise: nil)
        default:
            context.fireErrorCaught(error)
        }
    }
}
