import Foundation
import Logging
import Synchronization
import Testing

@testable import LeaseholdCLI

@Suite("--log-format json")
struct JSONLogHandlerTests {
    @Test("one object per line: time, level, label, message, then metadata sorted; strings escaped")
    func line() throws {
        let line = JSONLogHandler.line(
            time: Date(timeIntervalSince1970: 1_700_000_000.25),
            level: .info,
            label: "leasehold",
            message: "lock expired",
            metadata: ["token": "42", "key": "jobs/\"1\"\n", "owner": "ops", "session": "7"]
        )
        #expect(
            line == #"{"time":"2023-11-14T22:13:20.250Z","level":"info","label":"leasehold","message":"lock expired","#
                + #""key":"jobs/\"1\"\n","owner":"ops","session":"7","token":"42"}"#
        )
        let decoded = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String]
        #expect(decoded?["key"] == "jobs/\"1\"\n")
        #expect(JSONLogHandler.quote("\u{1}") == #""\u0001""#)
    }

    @Test("the handler merges its metadata with the call's and respects its level")
    func handler() {
        let lines = Mutex<[String]>([])
        var handler = JSONLogHandler(label: "test", write: { line in lines.withLock { $0.append(line) } })
        handler.logLevel = .info
        handler[metadataKey: "connection"] = "3"
        var logger = Logger(label: "test", factory: { _ in handler })
        logger.logLevel = .info
        logger.debug("not shown")
        logger.info("shown", metadata: ["key": "k"])
        let written = lines.withLock { $0 }
        #expect(written.count == 1)
        #expect(written.first?.hasSuffix(#""message":"shown","connection":"3","key":"k"}"#) == true)
    }
}
