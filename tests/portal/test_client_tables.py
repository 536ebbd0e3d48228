"""The per-client tables stay bounded without resetting everyone: accepted clients and order rate limits."""

from __future__ import annotations

from appliance.portal.captive import CaptiveClients
from appliance.portal.orders import RateLimiter
from appliance.timebase import ManualClock


def test_a_full_table_of_accepted_clients_drops_the_longest_silent_not_the_newcomer() -> None:
    clock = ManualClock()
    clients = CaptiveClients(clock, inactivity=600, max_clients=3)
    for address in ("10.0.0.1", "10.0.0.2", "10.0.0.3"):
        clients.accept(address)
        clock.advance(10)
    clients.touch("10.0.0.1")  # active again: now 10.0.0.2 is the longest silent
    clients.accept("10.0.0.4")
    assert len(clients) == 3
    assert [clients.is_accepted(a) for a in ("10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4")] == [
        True, False, True, True]
    clients.accept("10.0.0.4")  # already there: nobody is dropped
    assert len(clients) == 3 and clients.is_accepted("10.0.0.3")
    clock.advance(601)
    clients.accept("10.0.0.5")  # the inactive ones expire first
    assert len(clients) == 1


def test_a_full_rate_limiter_keeps_the_limits_of_clients_still_in_use() -> None:
    clock = ManualClock()
    limiter = RateLimiter(clock, per_minute=6, burst=2, max_clients=3)
    for _ in range(2):
        assert limiter.allow("10.0.0.1") == 0.0
    assert limiter.allow("10.0.0.1") > 0  # 10.0.0.1 has used its burst
    clock.advance(1)
    assert limiter.allow("10.0.0.2") == 0.0
    assert limiter.allow("10.0.0.3") == 0.0
    clock.advance(15)  # 10.0.0.2 and 10.0.0.3 are full again (2.5 tokens, capped at 2); 10.0.0.1 has 1.6
    assert limiter.allow("10.0.0.4") == 0.0  # room made from the full buckets, not by forgetting 10.0.0.1
    assert limiter.allow("10.0.0.1") == 0.0
    assert limiter.allow("10.0.0.1") > 0  # its bucket was kept: one token, not a fresh burst of two
