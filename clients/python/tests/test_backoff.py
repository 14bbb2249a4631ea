"""The reconnection back-off (`_Backoff`): pure, no sockets."""

from __future__ import annotations

import random

from leasehold.client import _Backoff


def test_steps_double_up_to_the_maximum_with_each_pause_in_the_upper_half_of_its_step() -> None:
    backoff = _Backoff(0.05, 0.5, random.Random(42))
    pauses = []
    for step in (0.05, 0.1, 0.2, 0.4, 0.5, 0.5):
        pause = backoff.next()
        assert step / 2 <= pause <= step
        pauses.append(pause)
    assert len(set(pauses)) == len(pauses)  # drawn: clients cut off together come back at different times
    backoff.reset()
    assert backoff.next() <= 0.05
