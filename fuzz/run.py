"""Run a fuzz target for a while: under Atheris when it is installed, else a random driver.

Usage::

    python -m fuzz.run envelope --seconds 600            # Atheris if importable
    python -m fuzz.run envelope --driver random --runs 100000
    python -m fuzz.run all --seconds 60 --driver random

Strategy: the random driver mutates the target's genuine seeds and its corpus files (bit
flips, byte changes, splices of random bytes, truncation, extension, and pure noise), calls
the target, and treats any exception outside ``EXPECTED`` as a crash (Atheris keeps its
growing corpus in ``fuzz/work/``, and writes crashes to the corpus folder too): the input is written
to ``fuzz/corpus/<target>/crash-<sha256>`` (commit it: the regression test replays every file
there) and the run stops with exit status 1. It prints the executions it ran.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from fuzz.targets import EXPECTED, TARGETS, seeds

__all__ = ["corpus", "main", "mutate", "run_random"]

CORPUS = Path(__file__).resolve().parent / "corpus"
WORK = Path(__file__).resolve().parent / "work"  # Atheris's growing corpus (not committed)


def corpus(name: str) -> list[bytes]:
    """The committed inputs of a target (regressions and seeds)."""
    folder = CORPUS / name
    return [p.read_bytes() for p in sorted(folder.iterdir())] if folder.is_dir() else []


def mutate(data: bytes, rng: random.Random) -> bytes:
    """One random change of ``data``."""
    out = bytearray(data or b"\x00")
    choice = rng.randrange(6)
    at = rng.randrange(len(out))
    if choice == 0:
        out[at] ^= 1 << rng.randrange(8)
    elif choice == 1:
        out[at] = rng.randrange(256)
    elif choice == 2:
        junk = rng.randbytes(rng.randint(1, 16))
        out[at : at + len(junk)] = junk
    elif choice == 3:
        del out[at:]
    elif choice == 4:
        out += rng.randbytes(rng.randint(1, 64))
    else:
        return rng.randbytes(rng.randint(0, 2 * len(out)))
    return bytes(out)


def _save(name: str, data: bytes) -> Path:
    folder = CORPUS / name
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"crash-{hashlib.sha256(data).hexdigest()[:16]}"
    path.write_bytes(data)
    return path


def _call(target: Callable[[bytes], None], data: bytes) -> BaseException | None:
    try:
        target(data)
    except EXPECTED:
        return None
    except Exception as exc:
        return exc
    return None


def run_random(name: str, *, runs: int, seconds: float, seed: int = 0) -> tuple[int, list[Path]]:
    """Mutate seeds and corpus for ``runs`` executions or ``seconds``; (executions, crashes)."""
    target, rng = TARGETS[name], random.Random(seed)  # noqa: S311 - fuzzing, not secrets
    pool = seeds(name) + corpus(name) or [b""]
    crashes: list[Path] = []
    deadline, done = time.monotonic() + seconds, 0
    while done < runs and time.monotonic() < deadline:
        data = mutate(rng.choice(pool), rng)
        for _ in range(rng.randrange(3)):
            data = mutate(data, rng)
        done += 1
        failure = _call(target, data)
        if failure is not None:
            crashes.append(_save(name, data))
            traceback.print_exception(failure)
            break
    return done, crashes


def _run_atheris(name: str, seconds: float) -> None:
    import atheris  # type: ignore[import-not-found, import-untyped, unused-ignore]

    target = TARGETS[name]

    def one(data: bytes) -> None:
        try:
            target(data)
        except EXPECTED:
            pass

    folder, work = CORPUS / name, WORK / name  # libFuzzer grows the first, reads both
    folder.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    argv = [sys.argv[0], str(work), str(folder), f"-max_total_time={int(seconds)}"]
    argv += [f"-artifact_prefix={folder}/crash-"]
    atheris.instrument_all()  # coverage of every module imported so far (payk included)
    atheris.Setup(argv, one)
    atheris.Fuzz()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fuzz.run", description=__doc__)
    parser.add_argument("target", choices=[*TARGETS, "all"])
    parser.add_argument("--driver", choices=["auto", "atheris", "random"], default="auto")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--runs", type=int, default=10**9)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    names = list(TARGETS) if args.target == "all" else [args.target]
    driver = args.driver
    if driver == "auto":
        try:
            import atheris  # type: ignore[import-not-found, import-untyped, unused-ignore]  # noqa: F401

            driver = "atheris" if len(names) == 1 else "random"
        except ImportError:
            driver = "random"
    if driver == "atheris":
        _run_atheris(names[0], args.seconds)
        return 0
    status = 0
    for name in names:
        done, crashes = run_random(name, runs=args.runs, seconds=args.seconds, seed=args.seed)
        print(f"{name}: {done} executions, {len(crashes)} crash(es) {[str(c) for c in crashes]}")
        status |= bool(crashes)
    return status


if __name__ == "__main__":
    sys.exit(main())
