// Encode and decode costs of the messages on Leasehold's hot paths: what the server pays per Acquire, per grant,
// per watch batch, and per frame around them.
import Benchmark
import LeaseholdCore
import LeaseholdWire
import NIOCore

/// Instructions and allocations are stable across machines and runs; wall clock is for local comparisons only.
let codecMetrics: [BenchmarkMetric] = [.instructions, .mallocCountTotal, .wallClock]

let sampleLock = LockInfo(
    key: "jobs/reindex/shard-0042",
    sessionID: SessionID(918_273),
    fencingToken: 1_234_567,
    owner: "worker-7",
    acquiredAt: WallTime(millisecondsSince1970: 1_767_225_600_000),
    sessionTTL: .seconds(10)
)

let sampleAcquireRequest = AcquireRequest(
    sessionID: SessionID(918_273),
    key: "jobs/reindex/shard-0042",
    wait: .seconds(30)
)

let sampleAcquireResponse = AcquireResponse(lock: sampleLock)

/// A watch batch of ten events: five keys of one prefix, each granted then released.
let sampleWatchResponse: WatchResponse = {
    var events: [Event] = []
    for index in 0..<10 {
        let pair = UInt64(index / 2)
        let revision: UInt64 = 1_234_560 + UInt64(index)
        let kind: Event.Kind = index.isMultiple(of: 2) ? .acquired : .released
        let token: UInt64 = 1_234_560 + 2 * pair
        events.append(
            Event(
                revision: revision,
                kind: kind,
                key: "jobs/reindex/shard-\(1_000 + pair)",
                sessionID: SessionID(918_273 + pair),
                fencingToken: token,
                owner: "worker-\(pair)",
                at: WallTime(millisecondsSince1970: 1_767_225_600_000 + UInt64(index))
            )
        )
    }
    return WatchResponse(events: events, revision: 1_234_569)
}()

/// The server's answer to an Acquire as it goes on the wire: payload plus OK status.
let sampleResponseFrame = Frame(callID: 77_001, payload: sampleAcquireResponse.encoded(), status: .ok)

/// A client's Acquire call as it goes on the wire: method, payload and deadline.
let sampleRequestFrame = Frame(
    callID: 77_001,
    method: LeaseholdMethod.acquire.name,
    payload: sampleAcquireRequest.encoded(),
    timeout: .seconds(35)
)

func encodeBenchmark<Message: WireMessage>(_ name: String, _ message: Message) {
    Benchmark(name, configuration: .init(metrics: codecMetrics, scalingFactor: .kilo)) { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(message.encoded())
        }
    }
}

func decodeBenchmark<Message: WireMessage>(_ name: String, _ message: Message) {
    let bytes = message.encoded()
    Benchmark(name, configuration: .init(metrics: codecMetrics, scalingFactor: .kilo)) { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try Message(decoding: bytes))
        }
    }
}

func frameBenchmarks(_ name: String, _ frame: Frame) {
    Benchmark(
        "Frame encode with length prefix (\(name))",
        configuration: .init(metrics: codecMetrics, scalingFactor: .kilo)
    ) { benchmark in
        var buffer = ByteBufferAllocator().buffer(capacity: 256)
        for _ in benchmark.scaledIterations {
            buffer.clear()
            frame.encodeWithLengthPrefix(into: &buffer)
            blackHole(buffer.readableBytes)
        }
    }

    // What the connection does per inbound frame: cut it out of the stream and decode it (FrameDecoder does both).
    var wire = ByteBufferAllocator().buffer(capacity: 256)
    frame.encodeWithLengthPrefix(into: &wire)
    let encoded = wire
    Benchmark("Frame cut and decode (\(name))", configuration: .init(metrics: codecMetrics, scalingFactor: .kilo)) {
        benchmark in
        var decoder = FrameDecoder(maximumFrameLength: 1 << 20)
        for _ in benchmark.scaledIterations {
            var input = encoded
            guard let frame = try decoder.decode(buffer: &input) else {
                benchmark.error("a whole frame did not decode")
                return
            }
            blackHole(frame)
        }
    }
}

let benchmarks: @Sendable () -> Void = {
    encodeBenchmark("AcquireRequest encode", sampleAcquireRequest)
    decodeBenchmark("AcquireRequest decode", sampleAcquireRequest)
    encodeBenchmark("AcquireResponse encode", sampleAcquireResponse)
    decodeBenchmark("AcquireResponse decode", sampleAcquireResponse)
    encodeBenchmark("WatchResponse (10 events) encode", sampleWatchResponse)
    decodeBenchmark("WatchResponse (10 events) decode", sampleWatchResponse)
    frameBenchmarks("Acquire call", sampleRequestFrame)
    frameBenchmarks("Acquire answer", sampleResponseFrame)
}
