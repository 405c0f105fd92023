"""How the watcher folds raw batches: a save goes at once, a storm waits for a quiet spell."""

from __future__ import annotations

from kudev.sources.watch import MAX_GROUP_MS, STORM_PATHS, _fold_storms

QUIET: set[str] = set()  # what the watcher yields after STORM_QUIET_MS without a change


def paths(prefix: str, count: int) -> set[str]:
    return {f"/src/{prefix}{i}" for i in range(count)}


def test_a_single_save_is_handed_over_at_once():
    folded = _fold_storms(iter([{"/src/a.py"}]))
    assert next(folded) == {"/src/a.py"}


def test_quiet_spells_without_changes_yield_nothing():
    assert list(_fold_storms(iter([QUIET, QUIET, {"/src/a.py"}, QUIET]))) == [{"/src/a.py"}]


def test_a_storm_with_short_pauses_is_one_batch():
    storm = [paths("a", STORM_PATHS), paths("b", 5), paths("c", 30), QUIET]
    assert list(_fold_storms(iter(storm))) == [
        paths("a", STORM_PATHS) | paths("b", 5) | paths("c", 30)
    ]


def test_a_storm_is_not_handed_over_before_the_quiet_spell():
    folded = list(_fold_storms(iter([paths("a", STORM_PATHS), paths("b", 3)])))
    assert folded == []  # the iterator ended without the watcher ever being quiet


def test_a_tree_that_never_stops_changing_still_builds_after_max_group():
    now = [0.0]

    def clock() -> float:
        return now[0]

    def batches():
        for i in range(100):
            now[0] = i * 0.1  # a batch every 100 ms, never a quiet spell
            yield paths(f"n{i}-", STORM_PATHS)

    first = next(_fold_storms(batches(), clock))
    # Handed over at the first batch at or past MAX_GROUP_MS, holding everything before it.
    assert len(first) == STORM_PATHS * (MAX_GROUP_MS // 100 + 1)
