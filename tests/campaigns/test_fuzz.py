"""Fuzzing in CI: replay the regression corpus, a short random run per target, Hypothesis.

The long runs are ``python -m fuzz.run <target> --seconds N`` (Atheris when installed).
Every crash input a run finds is written to ``fuzz/corpus/<target>/`` and committed; this
test replays all of them, so a fixed crash can never come back unnoticed.
"""

from __future__ import annotations

import random

import pytest
from fuzz.run import _call, corpus, mutate, run_random
from fuzz.targets import TARGETS, seeds
from hypothesis import given, settings
from hypothesis import strategies as st

NAMES = sorted(TARGETS)


@pytest.mark.parametrize("name", NAMES)
def test_every_target_has_a_corpus_and_every_input_is_refused_or_accepted(name: str) -> None:
    inputs = corpus(name)
    assert inputs, f"fuzz/corpus/{name}/ is empty"
    for data in inputs:
        assert _call(TARGETS[name], data) is None


@pytest.mark.parametrize("name", NAMES)
def test_a_short_random_run_finds_no_crash(name: str) -> None:
    done, crashes = run_random(name, runs=1500, seconds=20, seed=2026)
    assert crashes == [] and done > 0


def test_mutations_change_the_input_and_stay_bytes() -> None:
    rng = random.Random(1)
    outs = {mutate(b"genuine input", rng) for _ in range(50)}
    assert b"genuine input" not in outs or len(outs) > 1
    assert all(isinstance(o, bytes) for o in outs)


def _spliced(name: str) -> st.SearchStrategy[bytes]:
    base = st.sampled_from(seeds(name) or [b""])
    return st.tuples(base, st.integers(0, 4096), st.binary(min_size=1, max_size=24)).map(
        lambda t: t[0][: t[1] % (len(t[0]) + 1)] + t[2] + t[0][t[1] % (len(t[0]) + 1) + len(t[2]) :]
    )


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_hypothesis_spliced_seeds_never_crash(name: str, data: st.DataObject) -> None:
    candidate = data.draw(st.one_of(_spliced(name), st.binary(max_size=512)))
    assert _call(TARGETS[name], candidate) is None
