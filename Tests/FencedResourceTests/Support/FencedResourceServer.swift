import FencedResource
import LeaseholdRPC
import LeaseholdTestUtilities
import Logging
import NIOCore

/// A FencedResource service on a real `RPCServer` at 127.0.0.1, port 0, with its SQLite file in a fresh folder.
struct TestResourceServer {
    let client: FencedResourceClient
    let port: Int
    let path: String
}

/// Runs `body` against a fresh FencedResource server, then stops it and removes its folder.
/// - Parameters:
///   - validator: The lock server check, if any.
///   - body: Gets the server's client, port and file.
func withFencedResource<R>(
    validator: (any FencingTokenValidator)? = nil,
    _ body: (TestResourceServer) async throws -> R
) async throws -> R {
    let directory = try TemporaryDirectory("fenced-resource")
    defer { directory.remove() }
    let logger = quietLogger()
    let service = try FencedResourceService(path: directory.file("fenced.db"), validator: validator, logger: logger)
    var configuration = RPCServer.Configuration(host: "127.0.0.1", port: 0)
    // Wall-clock deadlines a loaded test machine could trip (tested on a manual clock in LeaseholdRPCTests).
    configuration.limits.helloTimeout = .seconds(300)
    configuration.limits.frameTimeout = .seconds(300)
    let server = RPCServer(configuration: configuration, services: [service], logger: logger)
    let port: Int
    do {
        port = try await server.start().port!
    } catch {
        await service.close()
        throw error
    }
    let result: Result<R, any Error>
    do {
        let client = try await FencedResourceClient.connect(host: "127.0.0.1", port: port)
        do {
            result = .success(
                try await body(TestResourceServer(client: client, port: port, path: directory.file("fenced.db")))
            )
        } catch {
            result = .failure(error)
        }
        await client.close()
    } catch {
        result = .failure(error)
    }
    await server.stop()
    await service.close()
    return try result.get()
}

extension Array where Element == UInt8 {
    /// The UTF-8 bytes of `text`.
    static func utf8(_ text: String) -> [UInt8] { Array(text.utf8) }
}

/// A logger that prints warnings and worse only.
func quietLogger() -> Logger {
    var logger = Logger(label: "fenced-resource.test")
    logger.logLevel = .warning
    return logger
}
