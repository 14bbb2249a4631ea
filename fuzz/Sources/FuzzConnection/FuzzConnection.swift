@_spi(Fuzzing) import LeaseholdRPC
import LeaseholdWire
import Logging
import NIOCore
import NIOEmbedded

/// A service whose methods answer on the loop, so that one input runs to its end within the call.
struct FuzzService: RPCService {
    static let echo = MethodDescriptor<ForceReleaseRequest, ForceReleaseRequest>("fuzz.Fuzz/Echo")
    static let later = MethodDescriptor<DescribeRequest, DescribeRequest>("fuzz.Fuzz/Later")

    var methods: [RPCMethod] {
        [
            .unaryInline(Self.echo) { request, _ in request },
            // Answers at once, or never when the key is "hang" (left to CANCEL, the deadline or the close).
            .unaryCallback(Self.later) { request, _, respond in
                if request.key != "hang" { respond(.success(request)) }
                return nil
            },
        ]
    }
}

/// A server for one input, whose connection pipeline is built as the listener builds it, behind an embedded
/// channel. One per input: a server keeps one inbox per event loop it has served for its lifetime (a fixed set in a
/// real server), and each input brings a new embedded loop; a shared server would grow by one inbox per input, and
/// libFuzzer would run its leak check after every one.
func makeServer() -> RPCServer {
    var configuration = RPCServer.Configuration(host: "127.0.0.1", port: 0)
    configuration.limits.maxFrameBytes = 64 << 10
    configuration.limits.maxConcurrentCallsPerConnection = 8
    var logger = Logger(label: "fuzz")
    logger.logLevel = .critical
    return RPCServer(configuration: configuration, services: [FuzzService()], logger: logger)
}

/// libFuzzer's entry point: the input is what a client sends, cut into reads at the positions its first byte names;
/// time moves between reads so that deadlines fire. The server must neither crash nor leave the channel in a state
/// that `finish()` trips on.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConnection(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let bytes = UnsafeBufferPointer(start: data + 1, count: size - 1)
    let chunk = max(1, Int(data[0] & 0x3F) * 4)
    let channel = EmbeddedChannel()
    let server = makeServer()
    do {
        try server.installConnectionHandlers(on: channel)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        var start = 0
        while start < bytes.count, channel.isActive {
            let end = min(bytes.count, start + chunk)
            try channel.writeInbound(ByteBuffer(bytes: bytes[start..<end]))
            channel.pipeline.fireChannelReadComplete()
            if data[0] & 0x40 != 0 { channel.embeddedEventLoop.advanceTime(by: .seconds(11)) }
            while try channel.readOutbound(as: ByteBuffer.self) != nil {}
            start = end
        }
        channel.embeddedEventLoop.advanceTime(by: .seconds(60))
        while try channel.readOutbound(as: ByteBuffer.self) != nil {}
    } catch {
        // Errors the pipeline reports to the channel (a closed channel refusing a write) are fine; crashes are not.
    }
    _ = try? channel.finish(acceptAlreadyClosed: true)
    return 0
}

/// SwiftPM links an executable's entry point as `FuzzConnection_main`; it hands the command line to libFuzzer's driver.
@_cdecl("FuzzConnection_main")
public func fuzzConnectionMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    var argc = argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzConnection(data!, size) }
}

@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt
