import FencedResource
import LeaseholdWire
import Synchronization
import Testing

@Suite("FenceGuard: the pure check")
struct FenceGuardTests {
    @Test("a resource with no highest token accepts any token, and records it")
    func firstToken() {
        var fence = FenceGuard()
        #expect(fence.highestToken(for: "r") == nil)
        #expect(fence.accept(7, for: "r") == .accepted(newHighest: 7))
        #expect(fence.highestToken(for: "r") == 7)
    }

    @Test(
        "token against highest 10: lower is stale with the highest, equal and higher are accepted",
        arguments: [(UInt64, FenceGuard.Outcome)]([
            (0, .stale(highest: 10)),
            (9, .stale(highest: 10)),
            (10, .accepted(newHighest: 10)),
            (11, .accepted(newHighest: 11)),
            (.max, .accepted(newHighest: .max)),
        ])
    )
    func againstHighest(token: UInt64, expected: FenceGuard.Outcome) {
        var fence = FenceGuard(highestTokens: ["r": 10])
        #expect(fence.check(token, for: "r") == expected)
        #expect(FenceGuard.check(token, against: 10) == expected)
        #expect(fence.accept(token, for: "r") == expected)
        #expect(fence.highestToken(for: "r") == max(10, token))
    }

    @Test("one holder writes many times under one token")
    func equalTokenRepeatedly() {
        var fence = FenceGuard()
        for _ in 0..<3 { #expect(fence.accept(4, for: "r").isAccepted) }
        #expect(fence.highestTokens == ["r": 4])
    }

    @Test("a stale token changes nothing")
    func staleChangesNothing() {
        var fence = FenceGuard(highestTokens: ["r": 5])
        #expect(fence.accept(3, for: "r") == .stale(highest: 5))
        #expect(fence.highestTokens == ["r": 5])
    }

    @Test("resources are independent: a high token on one does not fence another")
    func perResource() {
        var fence = FenceGuard()
        #expect(fence.accept(100, for: "a").isAccepted)
        #expect(fence.accept(1, for: "b") == .accepted(newHighest: 1))
        #expect(fence.accept(50, for: "a") == .stale(highest: 100))
        #expect(fence.accept(2, for: "b").isAccepted)
        #expect(fence.highestTokens == ["a": 100, "b": 2])
    }

    @Test("unseen tokens are those above the highest, or any for a new resource")
    func unseen() {
        let fence = FenceGuard(highestTokens: ["r": 5])
        #expect(!fence.isUnseen(4, for: "r"))
        #expect(!fence.isUnseen(5, for: "r"))
        #expect(fence.isUnseen(6, for: "r"))
        #expect(fence.isUnseen(0, for: "new"))
    }

    @Test("refusals become STALE_FENCING_TOKEN with the highest token; acceptance is no error")
    func errors() throws {
        #expect(FenceGuard.Outcome.accepted(newHighest: 3).error(token: 3, resource: "r") == nil)
        let stale = try #require(FenceGuard.Outcome.stale(highest: 9).error(token: 3, resource: "r"))
        #expect(stale.code == .staleFencingToken)
        #expect(stale.highestToken == 9)
        #expect(stale.status.highestToken == 9)
        let released = try #require(FenceGuard.Outcome.notCurrentGrant(highest: 2).error(token: 3, resource: "r"))
        #expect(released.code == .staleFencingToken)
        #expect(released.highestToken == 2)
    }
}

@Suite("FenceGuard: validation through the lock server")
struct FenceGuardValidationTests {
    /// A validator that answers from a table and counts what it was asked.
    final class RecordingValidator: FencingTokenValidator {
        let current: [String: UInt64]
        let asked = Mutex<[UInt64]>([])

        init(current: [String: UInt64]) { self.current = current }

        func isCurrentGrant(lockKey: String, fencingToken: UInt64) async throws -> Bool {
            self.asked.withLock { $0.append(fencingToken) }
            return self.current[lockKey] == fencingToken
        }
    }

    struct Unreachable: Error {}

    @Test("lower tokens are stale without asking; equal ones are accepted without asking")
    func seenTokensAreNotValidated() async throws {
        let validator = RecordingValidator(current: [:])
        let fence = FenceGuard(highestTokens: ["r": 5])
        #expect(try await fence.admit(4, for: "r", lockKey: "k", validator: validator) == .stale(highest: 5))
        #expect(try await fence.admit(5, for: "r", lockKey: "k", validator: validator) == .accepted(newHighest: 5))
        #expect(validator.asked.withLock { $0 }.isEmpty)
    }

    @Test("an unseen token is accepted only if it is the key's current grant")
    func unseenTokensAreValidated() async throws {
        let validator = RecordingValidator(current: ["k": 8])
        let fence = FenceGuard(highestTokens: ["r": 5])
        #expect(try await fence.admit(8, for: "r", lockKey: "k", validator: validator) == .accepted(newHighest: 8))
        #expect(try await fence.admit(7, for: "r", lockKey: "k", validator: validator) == .notCurrentGrant(highest: 5))
        #expect(
            try await fence.admit(8, for: "r", lockKey: "other", validator: validator) == .notCurrentGrant(highest: 5)
        )
        #expect(
            try await fence.admit(1, for: "new", lockKey: "k", validator: validator) == .notCurrentGrant(highest: 0)
        )
        #expect(validator.asked.withLock { $0 } == [8, 7, 8, 1])
    }

    @Test("without a validator admit is the pure check")
    func noValidator() async throws {
        let fence = FenceGuard(highestTokens: ["r": 5])
        #expect(try await fence.admit(9, for: "r", lockKey: "", validator: nil) == .accepted(newHighest: 9))
        #expect(try await fence.admit(4, for: "r", lockKey: "", validator: nil) == .stale(highest: 5))
    }

    @Test("a lock server that cannot answer makes admit throw (the caller refuses)")
    func validatorFailure() async throws {
        let validator = ClosureTokenValidator { _, _ in throw Unreachable() }
        await #expect(throws: Unreachable.self) {
            try await FenceGuard.admit(6, against: 5, lockKey: "k", validator: validator)
        }
    }
}
