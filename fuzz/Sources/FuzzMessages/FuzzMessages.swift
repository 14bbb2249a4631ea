import FencedResourceWire
import LeaseholdWire
import NIOCore

/// Every message a client or server decodes. The first input byte picks one; the rest is its encoding.
let messageTypes: [any (WireMessage & Hashable).Type] = [
    HelloRequest.self, OpenSessionRequest.self, ResumeSessionRequest.self, KeepAliveRequest.self,
    CloseSessionRequest.self, AcquireRequest.self, ReleaseRequest.self, ForceReleaseRequest.self,
    DescribeRequest.self, ValidateRequest.self, ListRequest.self, WatchRequest.self,
    FencedWriteRequest.self, FencedReadRequest.self,
    // The answers, which the client decodes.
    HelloResponse.self, SessionInfo.self, KeepAliveResponse.self, CloseSessionResponse.self, AcquireResponse.self,
    ReleaseResponse.self, ForceReleaseResponse.self, DescribeResponse.self, ValidateResponse.self, ListResponse.self,
    WatchResponse.self, FencedWriteResponse.self, FencedReadResponse.self, Status.self, Empty.self,
]

/// Decodes, and re-encodes what decoded: the round trip must give an equal value.
func check<M: WireMessage & Hashable>(_ type: M.Type, _ bytes: ByteBuffer) {
    do {
        let message = try M(decoding: bytes)
        let again = try M(decoding: message.encoded())
        precondition(again == message, "\(M.protobufName) does not survive encoding: \(message) became \(again)")
    } catch is MalformedMessage, is InvalidTextField {
    } catch {
        fatalError("\(M.protobufName) threw an undocumented error: \(error)")
    }
}

/// libFuzzer's entry point.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzMessages(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let type = messageTypes[Int(data[0]) % messageTypes.count]
    check(type, ByteBuffer(bytes: UnsafeBufferPointer(start: data + 1, count: size - 1)))
    return 0
}

/// SwiftPM links an executable's entry point as `FuzzMessages_main`; it hands the command line to libFuzzer's driver.
@_cdecl("FuzzMessages_main")
public func fuzzMessagesMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    var argc = argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzMessages(data!, size) }
}

@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt
