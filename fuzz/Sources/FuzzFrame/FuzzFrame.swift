import LeaseholdWire
import NIOCore

/// libFuzzer's entry point: the input is a byte stream as a server reads it, split into length-prefixed frames by
/// ``FrameDecoder``. Every frame must decode or fail with a documented error, and whatever decodes must encode again
/// to bytes that decode to the same frame.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzFrame(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var stream = ByteBuffer(bytes: UnsafeBufferPointer(start: data, count: size))
    var decoder = FrameDecoder(maximumFrameLength: 64 << 10)
    do {
        while let frame = try decoder.decode(buffer: &stream) {
            var encoded = ByteBuffer()
            frame.encode(into: &encoded)
            let again = try Frame(decoding: encoded)
            precondition(again == frame, "a decoded frame does not survive encoding: \(frame) became \(again)")
        }
    } catch is FrameTooLarge, is MalformedMessage, is InvalidTextField {
    } catch {
        fatalError("FrameDecoder threw an undocumented error: \(error)")
    }
    // The body alone, as Frame(decoding:) sees a frame's bytes.
    do {
        _ = try Frame(decoding: ByteBuffer(bytes: UnsafeBufferPointer(start: data, count: size)))
    } catch is MalformedMessage, is InvalidTextField {
    } catch {
        fatalError("Frame(decoding:) threw an undocumented error: \(error)")
    }
    return 0
}

/// SwiftPM links an executable's entry point as `FuzzFrame_main`; it hands the command line to libFuzzer's driver.
@_cdecl("FuzzFrame_main")
public func fuzzFrameMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    var argc = argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzFrame(data!, size) }
}

@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt
