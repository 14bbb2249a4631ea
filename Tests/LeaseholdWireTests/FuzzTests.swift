import LeaseholdTestUtilities
import LeaseholdWire
import NIOCore
import Testing

/// Feeds `bytes` to every decoder: each must either decode or throw its documented errors, and never crash.
func decodeEverything(_ bytes: [UInt8]) {
    let buffer = ByteBuffer(bytes: bytes)
    expectDecodesOrMalformed { _ = try Frame(decoding: buffer).body }
    for type in Fixtures.allTypes {
        expectDecodesOrMalformed { try reencode(type.init(decoding: buffer)) }
    }

    var stream = buffer
    var decoder = FrameDecoder(maximumFrameLength: 1_024)
    do {
        while try decoder.decode(buffer: &stream) != nil {}
    } catch is FrameTooLarge, is MalformedMessage, is InvalidTextField {
    } catch {
        Issue.record("FrameDecoder threw \(error)")
    }
}

/// Whatever decodes must also encode again.
private func reencode(_ message: some WireMessage) {
    _ = message.encoded()
}

private func expectDecodesOrMalformed(_ body: () throws -> Void) {
    do {
        try body()
    } catch is MalformedMessage, is InvalidTextField {
    } catch {
        Issue.record("decoding threw \(error), not MalformedMessage or InvalidTextField")
    }
}

/// A quick pass in every test run; the deep search is libFuzzer's (`scripts/fuzz.sh`). The counts are kept small
/// because Swift Testing records a backtrace for every error thrown while a test runs, and nearly every input here
/// throws: 20,000 inputs took 40 s of both cores in a debug build, starving the other tests' event loops.
@Suite("Fuzz")
struct FuzzTests {
    @Test("2,500 random byte strings of 0–300 bytes never crash a decoder")
    func randomBytes() {
        var random = SplitMix64(seed: 0x1EA5_E401D)
        for _ in 0..<2_500 {
            decodeEverything(random.bytes(count: Int.random(in: 0...300, using: &random)))
        }
    }

    @Test("random bodies behind a valid length prefix never crash the frame decoder")
    func randomFrames() {
        var random = SplitMix64(seed: 0xF4A3E)
        for _ in 0..<1_000 {
            let body = random.bytes(count: Int.random(in: 0...200, using: &random))
            var buffer = ByteBuffer()
            buffer.writeInteger(UInt32(body.count))
            buffer.writeBytes(body)
            decodeEverything(Array(buffer.readableBytesView))
        }
    }

    @Test("mutated valid encodings never crash a decoder", arguments: Fixtures.golden)
    func mutations(_ golden: GoldenCase) {
        let frame = Frame(
            callID: 1,
            method: LeaseholdMethod.watch.name,
            payload: golden.message.encoded(),
            status: Fixtures.goldenStatus
        )
        var random = SplitMix64(seed: UInt64(golden.wire.bytes.count) &* 0x9E37_79B9)
        for valid in [golden.wire.bytes, Array(frame.prefixed.readableBytesView)] {
            for _ in 0..<60 {
                decodeEverything(Self.mutate(valid, using: &random))
            }
        }
    }

    /// A flipped, overwritten, dropped, inserted or truncated variant of `bytes`.
    static func mutate(_ bytes: [UInt8], using random: inout SplitMix64) -> [UInt8] {
        var bytes = bytes
        for _ in 0...Int.random(in: 0...3, using: &random) {
            let index = bytes.isEmpty ? 0 : Int.random(in: 0..<bytes.count, using: &random)
            switch Int.random(in: 0..<6, using: &random) {
            case 0 where !bytes.isEmpty: bytes[index] ^= 1 << UInt8.random(in: 0..<8, using: &random)
            case 1 where !bytes.isEmpty: bytes[index] = [0x00, 0x7F, 0x80, 0xFF].randomElement(using: &random)!
            case 2 where !bytes.isEmpty: bytes.remove(at: index)
            case 3: bytes.insert(UInt8.random(in: .min ... .max, using: &random), at: index)
            case 4: bytes = Array(bytes.prefix(index))
            default: bytes += bytes.prefix(index)
            }
        }
        return bytes
    }
}
