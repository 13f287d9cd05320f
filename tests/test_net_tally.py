"""The network tests' receiving tally, on its own (no namespaces needed)."""

from __future__ import annotations

from .net_peer import Tally, message


def _tally(*seqs: int) -> dict[str, object]:
    tally = Tally()
    for seq in seqs:
        tally.take(message(b"s", seq, 64))
    return tally.report()


def test_in_order_with_a_gap_counts_the_gap_lost() -> None:
    report = _tally(1, 2, 5, 6)
    assert (report["lost"], report["late"], report["reordered"]) == (2, 0, 0)


def test_a_late_arrival_fills_its_gap_and_is_not_lost() -> None:
    # The old connection's last bytes, delivered after the new connection's first.
    report = _tally(1, 2, 5, 3, 6, 4)
    assert (report["lost"], report["late"], report["reordered"]) == (0, 2, 0)


def test_a_number_seen_before_is_a_duplicate() -> None:
    report = _tally(1, 2, 3, 2)
    assert (report["duplicates"], report["late"], report["reordered"]) == (1, 0, 0)


def test_a_reordering_within_one_connection_is_caught() -> None:
    tally = Tally()
    for seq in (1, 2, 3):
        tally.take(message(b"s", seq, 64))
    tally.seen["s"].discard(2)  # as if 2 had never come: now it comes after 3, with no gap
    tally.take(message(b"s", 2, 64))
    assert (tally.late, tally.reordered) == (0, 1)
