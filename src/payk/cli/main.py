"""Entry point of the ``payk`` command.

Strategy: argparse builds one sub-command per CLI.md row; each command module registers its
parsers with ``register(subparsers)`` and sets ``handler``. ``main`` runs the handler and is the
one place that turns a ``PaykError`` into one sentence on stderr and its documented exit code
(0 ok, 1 usage or input, 2 authentication, 3 network, 4 integrity). A traceback is shown only
with ``PAYK_DEBUG=1``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

from payk.cli.output import Output
from payk.errors import PaykError

__all__ = ["build_parser", "main"]

Handler = Callable[[argparse.Namespace, Output], int]

COMMAND_MODULES = (
    "payk.cli.relay_cmd",
    "payk.cli.profile_cmd",
    "payk.cli.message_cmd",
    "payk.cli.demo_cmd",
    "payk.cli.group_cmd",
    "payk.cli.channel_cmd",
    "payk.cli.path_cmd",
    "payk.cli.safety_cmd",
    "payk.cli.evidence_cmd",
    "payk.cli.tui_cmd",
)

EXIT_INTERRUPTED = 130


def build_parser() -> argparse.ArgumentParser:
    """The full ``payk`` argument parser, with every command module registered."""
    parser = argparse.ArgumentParser(
        prog="payk",
        description="payk: a messenger a government cannot read, cannot ban and cannot "
        "easily infiltrate.",
        epilog="Exit codes: 0 ok, 1 usage or input error, 2 authentication, 3 network, "
        "4 integrity. The passphrase comes from $PAYK_PASSPHRASE when set.",
    )
    parser.add_argument(
        "--home",
        type=Path,
        default=None,
        help="profile folder (default: $PAYK_HOME, else the platform's user data folder)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object per result")
    parser.add_argument(
        "--proxy", metavar="URL", help="reach relays through socks5://HOST:PORT (e.g. Tor)"
    )
    parser.add_argument(
        "--bridge",
        metavar="LINE",
        help="reach relays through an obfs4 bridge ('obfs4 HOST:PORT cert=...')",
    )
    parser.add_argument(
        "--via", metavar="ADDRESS", help="also hand every envelope to this forwarding relay"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``payk`` with ``argv`` and return its exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return 1
    out = Output(json_mode=args.json)
    try:
        return handler(args, out)
    except PaykError as exc:
        _report(exc, str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        _report(None, "interrupted; nothing already stored was lost")
        return EXIT_INTERRUPTED
    except Exception as exc:  # the last guard: one sentence, never a traceback
        _report(exc, f"unexpected error ({type(exc).__name__}): {exc}")
        return 1


def _report(exc: BaseException | None, sentence: str) -> None:
    if exc is not None and os.environ.get("PAYK_DEBUG") == "1":
        traceback.print_exception(exc)
    sys.stderr.write(f"payk: {sentence.rstrip('.')}.\n")
    sys.stderr.flush()


if __name__ == "__main__":
    sys.exit(main())
