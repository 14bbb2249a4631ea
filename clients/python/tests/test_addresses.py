"""The order in which one connection round tries addresses (`_AddressRound`): pure, no sockets."""

from __future__ import annotations

from leasehold.client import _MAX_LEADER_HOPS, _AddressRound

A, B, C = ("a", 7420), ("b", 7420), ("c", 7420)


def drain(plan: _AddressRound) -> list[tuple[str, int]]:
    order = []
    while (address := plan.next()) is not None:
        order.append(address)
    assert plan.exhausted
    return order


def test_every_address_once_from_the_preferred_one() -> None:
    assert drain(_AddressRound([A, B, C], 0)) == [A, B, C]
    assert drain(_AddressRound([A, B, C], 1)) == [B, C, A]
    assert drain(_AddressRound([A, B, C], 2)) == [C, A, B]
    assert drain(_AddressRound([A, B, A], 0)) == [A, B]  # a repeated address is tried once


def test_a_named_leader_is_tried_next_even_when_not_listed() -> None:
    plan = _AddressRound([A, B, C], 0)
    assert plan.next() == A
    plan.refused("d:7420")
    assert plan.next() == ("d", 7420)
    plan.refused("c:7420")  # listed, not yet tried: moved ahead of b
    assert drain(plan) == [C, B]


def test_a_leader_already_tried_is_not_tried_again() -> None:
    plan = _AddressRound([A, B], 0)
    assert plan.next() == A
    assert plan.next() == B
    plan.refused("a:7420")  # b names a, which just refused: the round ends
    assert plan.exhausted and plan.next() is None


def test_no_leader_or_a_bad_one_changes_nothing() -> None:
    plan = _AddressRound([A, B], 0)
    assert plan.next() == A
    plan.refused("")
    plan.refused("not an address:x")
    assert drain(plan) == [B]


def test_leader_hints_are_bounded_per_round() -> None:
    plan = _AddressRound([A], 0)
    assert plan.next() == A
    followed = []
    for n in range(_MAX_LEADER_HOPS + 3):
        plan.refused(f"n{n}:7420")
        address = plan.next()
        if address is None:
            break
        followed.append(address)
    assert followed == [(f"n{n}", 7420) for n in range(_MAX_LEADER_HOPS)]
