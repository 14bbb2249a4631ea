import LeaseholdLinearizability
import Testing

/// Histories are written with times in milliseconds. Sessions are numbers; so are clients (only for descriptions).
@Suite("Linearizability checker: one key against the fenced-lock model")
struct LinearizabilityCheckerTests {
    let checker = LinearizabilityChecker()

    // MARK: - Linearizable histories

    @Test("grants, releases and Describe one after the other")
    func sequential() {
        let history = [
            answered(1, .acquire(sessionID: 1), 0, 1, .granted(fencingToken: 3)),
            answered(1, .describe, 2, 3, .described(LockHolder(sessionID: 1, fencingToken: 3), revision: 3)),
            answered(1, .release(sessionID: 1, fencingToken: 3), 4, 5, .released(revision: 4)),
            answered(2, .describe, 6, 7, .described(nil, revision: 9)),  // other keys moved the counter
            answered(2, .acquire(sessionID: 2), 8, 9, .granted(fencingToken: 12)),
            answered(2, .release(sessionID: 2, fencingToken: 12), 10, 11, .released(revision: 13)),
        ]
        #expect(self.checker.check(history).verdict == .linearizable)
    }

    @Test("a waiter granted when the holder releases, during overlapping calls")
    func handOver() {
        let history = [
            answered(1, .acquire(sessionID: 1), 0, 2, .granted(fencingToken: 5)),
            // Session 2 waits from 1 to 9; session 1's release (7 to 10) hands the key over.
            answered(2, .acquire(sessionID: 2), 1, 9, .granted(fencingToken: 7)),
            answered(1, .release(sessionID: 1, fencingToken: 5), 7, 10, .released(revision: 6)),
            // A Describe overlapping all of it may see the key held by session 1.
            answered(3, .describe, 3, 8, .described(LockHolder(sessionID: 1, fencingToken: 5), revision: 5)),
        ]
        #expect(self.checker.check(history).verdict == .linearizable)
    }

    @Test("LOCK_HELD names the holder, a wrong token is NOT_LOCK_HOLDER, the holder gets its own token again")
    func refusals() {
        let history = [
            answered(1, .acquire(sessionID: 1), 0, 1, .granted(fencingToken: 3)),
            answered(2, .acquire(sessionID: 2), 2, 3, .lockHeld(LockHolder(sessionID: 1, fencingToken: 3))),
            answered(2, .release(sessionID: 2, fencingToken: 3), 4, 5, .notLockHolder),
            answered(1, .release(sessionID: 1, fencingToken: 2), 6, 7, .notLockHolder),
            answered(3, .acquire(sessionID: 3), 8, 20, .waitExpired),
            answered(1, .acquire(sessionID: 1), 9, 10, .granted(fencingToken: 3)),
            answered(2, .sessionLocks(sessionID: 2), 11, 12, .sessionHolds(fencingToken: nil)),
            answered(1, .sessionLocks(sessionID: 1), 13, 14, .sessionHolds(fencingToken: 3)),
            answered(1, .closeSession(sessionID: 1), 21, 22, .closed),
            answered(2, .describe, 23, 24, .described(nil, revision: 4)),
        ]
        #expect(self.checker.check(history).verdict == .linearizable)
    }

    @Test("a lost Acquire that took effect: its token is first seen in a LOCK_HELD, then in ResumeSession")
    func lostAcquireThatTookEffect() {
        let history = [
            answered(0, .describe, 0, 1, .described(nil, revision: 9)),
            lost(1, .acquire(sessionID: 1), 2, settledBy: 10),
            answered(2, .acquire(sessionID: 2), 5, 6, .lockHeld(LockHolder(sessionID: 1, fencingToken: 10))),
            answered(1, .sessionLocks(sessionID: 1), 20, 21, .sessionHolds(fencingToken: 10)),
            answered(1, .release(sessionID: 1, fencingToken: 10), 22, 23, .released(revision: 11)),
            answered(2, .acquire(sessionID: 2), 24, 25, .granted(fencingToken: 12)),
        ]
        #expect(self.checker.check(history).verdict == .linearizable)
    }

    @Test("a lost Acquire that never took effect, and a lost Acquire revealed only by the holder's release")
    func lostAcquireThatDidNot() {
        let never = [
            answered(0, .describe, 0, 1, .described(nil, revision: 9)),
            lost(1, .acquire(sessionID: 1), 2, settledBy: 10),
            answered(1, .sessionLocks(sessionID: 1), 20, 21, .sessionHolds(fencingToken: nil)),
            answered(2, .acquire(sessionID: 2), 22, 23, .granted(fencingToken: 10)),
        ]
        #expect(self.checker.check(never).verdict == .linearizable)
        let revealedByRelease = [
            lost(1, .acquire(sessionID: 1), 2, settledBy: 10),
            answered(2, .acquire(sessionID: 2), 11, 30, .granted(fencingToken: 9)),
            answered(1, .release(sessionID: 1, fencingToken: 7), 20, 21, .released(revision: 8)),
        ]
        #expect(self.checker.check(revealedByRelease).verdict == .linearizable)
    }

    @Test("lost releases and closes, with and without effect, and a lost Acquire with no settling time")
    func lostReleasesAndCloses() {
        let releaseTookEffect = [
            answered(1, .acquire(sessionID: 1), 0, 1, .granted(fencingToken: 3)),
            lost(1, .release(sessionID: 1, fencingToken: 3), 2, settledBy: 5),
            answered(2, .acquire(sessionID: 2), 6, 7, .granted(fencingToken: 5)),
        ]
        #expect(self.checker.check(releaseTookEffect).verdict == .linearizable)
        let releaseUndone = [
            answered(1, .acquire(sessionID: 1), 0, 1, .granted(fencingToken: 3)),
            lost(1, .release(sessionID: 1, fencingToken: 3), 2, settledBy: 5),
            answered(2, .describe, 6, 7, .described(LockHolder(sessionID: 1, fencingToken: 3), revision: 3)),
            answered(1, .release(sessionID: 1, fencingToken: 3), 8, 9, .released(revision: 4)),
        ]
        #expect(self.checker.check(releaseUndone).verdict == .linearizable)
        let closes = [
            answered(1, .acquire(sessionID: 1), 0, 1, .granted(fencingToken: 3)),
            lost(1, .closeSession(sessionID: 1), 2, settledBy: 5),
            answered(1, .sessionLocks(sessionID: 1), 6, 7, .sessionHolds(fencingToken: nil)),
            answered(2, .acquire(sessionID: 2), 8, 9, .granted(fencingToken: 5)),
            lost(2, .closeSession(sessionID: 2), 10, settledBy: 12),
            answered(3, .acquire(sessionID: 3), 13, 14, .lockHeld(LockHolder(sessionID: 2, fencingToken: 5))),
            lost(3, .acquire(sessionID: 3), 15, settledBy: nil),
            answered(4, .describe, 16, 17, .described(LockHolder(sessionID: 2, fencingToken: 5), revision: 5)),
        ]
        #expect(self.checker.check(closes).verdict == .linearizable)
    }

    // MARK: - Planted bugs

    @Test("planted: a second grant inside a hold")
    func secondGrantInsideHold() {
        let history = [
            answered(1, .acquire(sessionID: 1), 0, 1, .granted(fencingToken: 3)),
            answered(2, .acquire(sessionID: 2), 2, 3, .granted(fencingToken: 4)),
            answered(1, .release(sessionID: 1, fencingToken: 3), 4, 5, .released(revision: 5)),
        ]
        let check = self.checker.check(history)
        #expect(check.verdict == .notLinearizable)
        #expect(check.window?.blocked == history[1] || check.window?.pending.contains(history[1]) == true, "\(check)")
    }

    @Test("planted: a release with a wrong token succeeds")
    func wrongTokenReleaseSucceeds() {
        let ownStaleToken = [
            answered(1, .acquire(sessionID: 1), 0, 1, .granted(fencingToken: 3)),
            answered(1, .release(sessionID: 1, fencingToken: 2), 2, 3, .released(revision: 4)),
        ]
        #expect(self.checker.check(ownStaleToken).verdict == .notLinearizable)
        let foreignSession = [
            answered(1, .acquire(sessionID: 1), 0, 1, .granted(fencingToken: 3)),
            answered(2, .release(sessionID: 2, fencingToken: 3), 2, 3, .released(revision: 4)),
        ]
        #expect(self.checker.check(foreignSession).verdict == .notLinearizable)
        let freeKey = [answered(2, .release(sessionID: 2, fencingToken: 3), 2, 3, .released(revision: 4))]
        #expect(self.checker.check(freeKey).verdict == .notLinearizable)
        let rightTokenRefused = [
            answered(1, .acquire(sessionID: 1), 0, 1, .granted(fencingToken: 3)),
            answered(1, .release(sessionID: 1, fencingToken: 3), 2, 3, .notLockHolder),
        ]
        #expect(self.checker.check(rightTokenRefused).verdict == .notLinearizable)
    }

    /// Issue 20: s5's try-lock was cut by the kill and its grant never became durable, yet two try-locks were told
    /// that s5 held the key with token 1435; after the restart, 1435 went to another session.
    @Test("planted: LOCK_HELD names a holder whose grant a crash undid")
    func lockHeldNamingUndoneHolder() {
        let told = LockHolder(sessionID: 5, fencingToken: 1435)
        var history = [
            answered(1, .acquire(sessionID: 1), 0, 1, .granted(fencingToken: 1433)),
            answered(1, .release(sessionID: 1, fencingToken: 1433), 2, 3, .released(revision: 1434)),
            lost(5, .acquire(sessionID: 5), 10, settledBy: 69),  // killed 59 ms later
            answered(2, .acquire(sessionID: 2), 20, 21, .lockHeld(told)),
            answered(3, .acquire(sessionID: 3), 30, 31, .lockHeld(told)),
            // After the restart, which loaded revision 1434:
            answered(3, .acquire(sessionID: 3), 100, 101, .granted(fencingToken: 1435)),
        ]
        let check = self.checker.check(history)
        #expect(check.verdict == .notLinearizable)
        #expect(check.window?.blocked == history[5], "\(check)")
        #expect(!TokenOrderCheck.violations(in: ["k2": history]).isEmpty)

        // The same without the repeated token: s5 resumes and holds nothing, which no order can explain either.
        history[5] = answered(5, .sessionLocks(sessionID: 5), 100, 101, .sessionHolds(fencingToken: nil))
        #expect(self.checker.check(history).verdict == .notLinearizable)
        // While had s5 held it, the history would be fine.
        history[5] = answered(5, .sessionLocks(sessionID: 5), 100, 101, .sessionHolds(fencingToken: 1435))
        #expect(self.checker.check(history).verdict == .linearizable)
    }

    @Test(
        "planted: answers no fenced lock can give",
        arguments: [
            // Describe says free while the key is held.
            [
                answered(1, .acquire(sessionID: 1), 0, 1, .granted(fencingToken: 3)),
                answered(2, .describe, 2, 3, .described(nil, revision: 3)),
            ],
            // Describe names the wrong token.
            [
                answered(1, .acquire(sessionID: 1), 0, 1, .granted(fencingToken: 3)),
                answered(2, .describe, 2, 3, .described(LockHolder(sessionID: 1, fencingToken: 4), revision: 4)),
            ],
            // A token that is not above an earlier release's revision.
            [
                answered(1, .acquire(sessionID: 1), 0, 1, .granted(fencingToken: 5)),
                answered(1, .release(sessionID: 1, fencingToken: 5), 2, 3, .released(revision: 6)),
                answered(2, .acquire(sessionID: 2), 4, 5, .granted(fencingToken: 6)),
            ],
            // A Describe revision that goes back.
            [
                answered(1, .describe, 0, 1, .described(nil, revision: 8)),
                answered(1, .describe, 2, 3, .described(nil, revision: 7)),
            ],
            // A wait that ran out on a free key.
            [answered(1, .acquire(sessionID: 1), 0, 10, .waitExpired)],
            // The holder asking again gets another token.
            [
                answered(1, .acquire(sessionID: 1), 0, 1, .granted(fencingToken: 3)),
                answered(1, .acquire(sessionID: 1), 2, 3, .granted(fencingToken: 4)),
            ],
            // LOCK_HELD naming the caller itself.
            [
                answered(1, .acquire(sessionID: 1), 0, 1, .granted(fencingToken: 3)),
                answered(1, .acquire(sessionID: 1), 2, 3, .lockHeld(LockHolder(sessionID: 1, fencingToken: 3))),
            ],
            // A closed session still listed as holding the key.
            [
                answered(1, .acquire(sessionID: 1), 0, 1, .granted(fencingToken: 3)),
                answered(1, .closeSession(sessionID: 1), 2, 3, .closed),
                answered(1, .sessionLocks(sessionID: 1), 4, 5, .sessionHolds(fencingToken: 3)),
            ],
            // An acknowledged grant missing after a restart.
            [
                answered(1, .acquire(sessionID: 1), 0, 1, .granted(fencingToken: 3)),
                answered(1, .sessionLocks(sessionID: 1), 4, 5, .sessionHolds(fencingToken: nil)),
            ],
            // A lost Acquire's token seen below what was seen before it.
            [
                answered(0, .describe, 0, 1, .described(nil, revision: 9)),
                lost(1, .acquire(sessionID: 1), 2, settledBy: 10),
                answered(2, .acquire(sessionID: 2), 5, 6, .lockHeld(LockHolder(sessionID: 1, fencingToken: 9))),
            ],
            // An answer the call cannot have.
            [answered(1, .describe, 0, 1, .granted(fencingToken: 3))],
        ]
    )
    func impossibleAnswers(history: [LockOperation]) {
        let check = self.checker.check(history)
        #expect(check.verdict == .notLinearizable, "\(check)")
    }

    @Test("the failing window names the operation no order explains, and the lock's state before it")
    func failingWindowDescription() throws {
        let history = [
            answered(1, .acquire(sessionID: 1), 0, 1, .granted(fencingToken: 3)),
            answered(2, .acquire(sessionID: 2), 2, 3, .granted(fencingToken: 4)),
        ]
        let check = self.checker.check(history)
        let window = try #require(check.window)
        #expect(window.placed == 1)
        #expect(window.lastPlaced == [history[0]])
        #expect(
            window.states == [
                FencedLockModel.State(holder: .held(LockHolder(sessionID: 1, fencingToken: 3)), highestSeen: 3)
            ]
        )
        #expect(window.blocked == history[1])
        let text = "\(check)"
        #expect(text.contains("NOT linearizable"))
        #expect(text.contains("held by session 1 token 3"))
        #expect(text.contains("client 2: Acquire by session 2 [2.000 → 3.000 ms] → granted token 4"))
    }

    @Test("a search past its step limit is undecided, not linearizable")
    func stepLimit() {
        // Many unsettled lost operations: every order of them is a choice.
        var history: [LockOperation] = []
        for session in 1...4 {
            history.append(lost(session, .acquire(sessionID: UInt64(session)), session, settledBy: nil))
            history.append(
                lost(session, .release(sessionID: UInt64(session), fencingToken: 3), session, settledBy: nil)
            )
        }
        history.append(answered(0, .describe, 50, 51, .described(nil, revision: 2)))
        history.append(answered(0, .describe, 52, 53, .described(nil, revision: 1)))  // impossible: goes back
        let check = LinearizabilityChecker(stepLimit: 10).check(history)
        #expect(check.verdict == .undecided)
        #expect(check.steps > 10)
        #expect(LinearizabilityChecker().check(history).verdict == .notLinearizable)
    }
}

// MARK: - Building histories

/// An answered operation; times in milliseconds.
func answered(
    _ client: Int,
    _ call: LockOperation.Call,
    _ invoked: Int,
    _ answered: Int,
    _ result: LockOperation.Result
) -> LockOperation {
    LockOperation(
        client: client,
        call: call,
        invoked: .milliseconds(invoked),
        outcome: .answered(result, at: .milliseconds(answered))
    )
}

/// A lost operation; times in milliseconds.
func lost(_ client: Int, _ call: LockOperation.Call, _ invoked: Int, settledBy: Int?) -> LockOperation {
    LockOperation(
        client: client,
        call: call,
        invoked: .milliseconds(invoked),
        outcome: .lost(settledBy: settledBy.map { .milliseconds($0) })
    )
}
