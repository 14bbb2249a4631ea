import Foundation
public import LeaseholdRPC
import NIOCore

/// The server could not listen on an address it was given (``LeaseholdServer/start()``): in use, not local, not
/// allowed.
public struct ListenFailed: Error, CustomStringConvertible {
    /// The address, `HOST:PORT`.
    public var address: HostAndPort
    /// What the socket call said.
    public var underlying: any Error

    /// `cannot listen on 127.0.0.1:7420: Address already in use`.
    public var description: String {
        let reason =
            (self.underlying as? IOError).map { String(cString: strerror($0.errnoCode)) } ?? "\(self.underlying)"
        return "cannot listen on \(self.address): \(reason)"
    }

    /// Runs `bind`, reporting its failure as a ``ListenFailed`` for `host` and `port`.
    static func naming<R>(host: String, port: Int, _ bind: () async throws -> R) async throws -> R {
        do {
            return try await bind()
        } catch {
            throw ListenFailed(address: HostAndPort(host: host, port: port), underlying: error)
        }
    }
}
