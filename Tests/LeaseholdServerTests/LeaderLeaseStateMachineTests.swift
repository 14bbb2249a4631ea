import LeaseholdCore
import LeaseholdServer
import Testing

/// The leader lease's decisions, with time passed in: no sleeping, no database.
@Suite("Leader lease state machine")
struct LeaderLeaseStateMachineTests {
    typealias Machine = LeaderLeaseStateMachine
    let start = Instant(monotonic: .seconds(100), wall: WallTime(millisecondsSince1970: 0))

    private func at(_ offset: Duration) -> Instant { self.start + offset }

    private func call(_ actions: [Machine.Action]) -> Machine.Call? {
        for action in actions {
            switch action {
            case .takeOver(let call), .renew(let call, _): return call
            default: continue
            }
        }
        return nil
    }

    /// A machine that took the lease at `start` with epoch 7 (lease 3 s: renew every 750 ms, margin 300 ms).
    private func active() throws -> Machine {
        var machine = Machine(configuration: .init(lease: .seconds(3)), now: self.start)
        let takeOver = try #require(self.call(machine.tick(now: self.start)))
        #expect(
            machine.takeOverSucceeded(takeOver, epoch: 7, now: self.at(.milliseconds(5))) == [.becomeActive(epoch: 7)]
        )
        return machine
    }

    @Test("a standby tries a takeover at once, then every lease/4, one call at a time")
    func standbyPolls() throws {
        var machine = Machine(configuration: .init(lease: .seconds(3)), now: self.start)
        let first = try #require(self.call(machine.tick(now: self.start)))
        #expect(machine.tick(now: self.at(.milliseconds(100))).isEmpty)  // one call in flight
        machine.takeOverRefused(first, leader: "a:7420", now: self.at(.milliseconds(10)))
        #expect(machine.role == .standby(leader: "a:7420"))
        #expect(machine.nextDeadline == self.at(.milliseconds(750)))
        #expect(machine.tick(now: self.at(.milliseconds(749))).isEmpty)
        #expect(self.call(machine.tick(now: self.at(.milliseconds(750)))) != nil)
    }

    @Test("a standby told how long the lease has left tries again right when it runs out, if that is sooner")
    func standbyTriesAtTheLeasesEnd() throws {
        var machine = Machine(configuration: .init(lease: .seconds(3)), now: self.start)
        let first = try #require(self.call(machine.tick(now: self.start)))
        // 2 s left: later than the usual interval, which still applies (the holder may renew meanwhile).
        machine.takeOverRefused(first, leader: "a:7420", remaining: .seconds(2), now: self.at(.milliseconds(10)))
        #expect(machine.nextDeadline == self.at(.milliseconds(750)))
        let second = try #require(self.call(machine.tick(now: self.at(.milliseconds(750)))))
        // 300 ms left when the answer came at 760 ms: the next attempt is at 1,060 ms, not at 1,500 ms.
        machine.takeOverRefused(
            second,
            leader: "a:7420",
            remaining: .milliseconds(300),
            now: self.at(.milliseconds(760))
        )
        #expect(machine.nextDeadline == self.at(.milliseconds(1_060)))
        #expect(machine.tick(now: self.at(.milliseconds(1_059))).isEmpty)
        let third = try #require(self.call(machine.tick(now: self.at(.milliseconds(1_060)))))
        // A lease at its very end is not polled in a tight loop.
        machine.takeOverRefused(third, leader: "a:7420", remaining: .zero, now: self.at(.milliseconds(1_061)))
        #expect(machine.nextDeadline == self.at(.milliseconds(1_066)))
        // The lease has run out: the attempt takes it.
        let fourth = try #require(self.call(machine.tick(now: self.at(.milliseconds(1_066)))))
        #expect(
            machine.takeOverSucceeded(fourth, epoch: 8, now: self.at(.milliseconds(1_070))) == [.becomeActive(epoch: 8)]
        )
    }

    @Test("the lease is safe until the send time of the last success plus lease minus margin")
    func safeFromSendTime() throws {
        var machine = try self.active()
        #expect(machine.role == .active(epoch: 7, safeUntil: self.at(.milliseconds(2_700))))
        let renewal = try #require(self.call(machine.tick(now: self.at(.milliseconds(750)))))
        // The answer comes late; the deadline counts from the send time, not the answer's.
        machine.renewed(renewal)
        #expect(machine.role == .active(epoch: 7, safeUntil: self.at(.milliseconds(3_450))))
    }

    @Test("with every renewal unanswered, the node steps down at the deadline, before the lease can run out")
    func stepsDownWithoutAnswers() throws {
        var machine = try self.active()
        var now = self.start
        var steppedDown: Instant?
        while now < self.at(.seconds(4)), steppedDown == nil {
            now = machine.nextDeadline
            for action in machine.tick(now: now) where action == .stepDown { steppedDown = now }
        }
        #expect(steppedDown == self.at(.milliseconds(2_700)))
        #expect(machine.role == .standby(leader: ""))
        #expect(machine.epoch == nil)
    }

    @Test("a call that does not answer is abandoned after lease/2 and the next one goes out")
    func abandonsSilentCalls() throws {
        var machine = try self.active()
        let renewal = try #require(self.call(machine.tick(now: self.at(.milliseconds(750)))))
        let actions = machine.tick(now: self.at(.milliseconds(2_250)))
        #expect(actions.first == .abandon(renewal))
        let next = try #require(self.call(actions))
        #expect(next.id != renewal.id)
        machine.renewed(renewal)  // the abandoned answer changes nothing
        #expect(machine.role == .active(epoch: 7, safeUntil: self.at(.milliseconds(2_700))))
        machine.renewed(next)
        #expect(machine.role == .active(epoch: 7, safeUntil: self.at(.milliseconds(4_950))))
    }

    @Test("a refused renewal steps down at once")
    func refusedRenewal() throws {
        var machine = try self.active()
        let renewal = try #require(self.call(machine.tick(now: self.at(.milliseconds(750)))))
        #expect(machine.renewalRefused(renewal, now: self.at(.milliseconds(760))) == [.stepDown])
        #expect(machine.epoch == nil)
    }

    @Test("a takeover answered too late to be safe does not make the node active")
    func lateTakeOver() throws {
        var machine = Machine(configuration: .init(lease: .seconds(3)), now: self.start)
        let takeOver = try #require(self.call(machine.tick(now: self.start)))
        #expect(machine.takeOverSucceeded(takeOver, epoch: 3, now: self.at(.milliseconds(2_700))).isEmpty)
        #expect(machine.role == .standby(leader: ""))
    }

    @Test("a failed renewal keeps the deadline; the next renewal goes out at the next interval")
    func failedRenewal() throws {
        var machine = try self.active()
        let renewal = try #require(self.call(machine.tick(now: self.at(.milliseconds(750)))))
        machine.callFailed(renewal, now: self.at(.milliseconds(800)))
        #expect(machine.role == .active(epoch: 7, safeUntil: self.at(.milliseconds(2_700))))
        #expect(machine.tick(now: self.at(.milliseconds(1_000))).isEmpty)
        #expect(self.call(machine.tick(now: self.at(.milliseconds(1_500)))) != nil)
        #expect(machine.shutDown() == [.stepDown])
    }
}
