"""``payk disappear``, ``save``, ``lock``, ``panic``, ``duress set``: safety on a seized device.

Strategy: thin handlers over ``payk.client.disappearing`` (conversation timers; a group's
through ``payk.client.groups``, channels have none),
``payk.client.safety`` (lock and panic, which need no passphrase so they work in a hurry and
on a profile another process holds) and ``payk.client.duress`` (the decoy profile). The
design and its limits are in docs/safety.md.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path

from rich.console import RenderableType
from rich.text import Text

from payk.cli.output import Output
from payk.cli.profile_cmd import home_of, passphrase, run
from payk.client import contacts, disappearing, groups, safety
from payk.client.disappearing import TimerSetting
from payk.client.duress import DuressResult, set_duress
from payk.client.facade import Client
from payk.client.profile import profile_exists
from payk.client.safety import Panic
from payk.errors import UsageError
from payk.protocol.address import RelayAddress

__all__ = [
    "duress_passphrase",
    "register",
    "render_duress",
    "render_lock",
    "render_panic",
    "render_timer",
]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the safety commands to the ``payk`` parser."""
    timer = sub.add_parser(
        "disappear", help="show or set a conversation's or group's disappearing-message timer"
    )
    timer.add_argument("contact", help="the contact's or group's name")
    timer.add_argument(
        "duration", nargs="?", help="30s, 10m, 1h, 2d, 1w, or off (omit to show the timer)"
    )
    timer.set_defaults(handler=_disappear)
    save = sub.add_parser(
        "save", help="write a decrypted copy of a received file to a folder you choose"
    )
    save.add_argument("id", help="the message id (at least its first 4 hex digits)")
    save.add_argument("folder", type=Path, help="where the copy goes")
    save.set_defaults(handler=_save)
    lock = sub.add_parser(
        "lock", help="make running payk processes (listen, tui) drop their keys; no passphrase"
    )
    lock.set_defaults(handler=_lock)
    panic = sub.add_parser(
        "panic", help="lock down the profile now (no passphrase); --wipe destroys it"
    )
    panic.add_argument(
        "--wipe",
        action="store_true",
        help="overwrite the key material and remove the profile: it can never be opened again",
    )
    panic.set_defaults(handler=_panic)
    duress = sub.add_parser("duress", help="a duress passphrase that opens a harmless decoy")
    duress_sub = duress.add_subparsers(dest="duress_command", metavar="COMMAND", required=True)
    duress_set = duress_sub.add_parser(
        "set",
        help="set the duress passphrase ($PAYK_DURESS_PASSPHRASE, else asked); the first time "
        "it creates the decoy profile, which you fill by opening payk with that passphrase",
    )
    duress_set.add_argument("--name", help="the decoy's name (default: yours)")
    duress_set.add_argument(
        "--relay", action="append", metavar="ADDRESS", help="the decoy's relays (default: yours)"
    )
    duress_set.set_defaults(handler=_duress_set)


def _disappear(args: argparse.Namespace, out: Output) -> int:
    seconds = None if args.duration is None else disappearing.parse_duration(args.duration)

    async def body(client: Client) -> int:
        if groups.is_feed(client.profile.db, args.contact):
            if seconds is None:
                setting = groups.timer(client, args.contact)
            else:
                setting = await groups.set_timer(client, args.contact, seconds)
        elif seconds is None:
            contact = contacts.contact_by_alias(client.profile.db, args.contact)
            setting = disappearing.conversation_timer(client.profile.db, contact.id, contact.alias)
        else:
            setting = await disappearing.set_timer(client, args.contact, seconds)
        out.emit(setting.as_json(), render_timer(setting))
        return 0

    return run(args, out, body)


def _save(args: argparse.Namespace, out: Output) -> int:
    async def body(client: Client) -> int:
        path = safety.save_attachment(client.profile.db, args.id, args.folder)
        out.emit({"id": args.id, "file": str(path)}, Text(f"✓ saved to {path}"))
        return 0

    return run(args, out, body)


def _lock(args: argparse.Namespace, out: Output) -> int:
    home = home_of(args)
    _need_profile(home)
    safety.lock(home)
    out.emit({"locked": True}, render_lock())
    return 0


def _panic(args: argparse.Namespace, out: Output) -> int:
    home = home_of(args)
    _need_profile(home)
    done = safety.panic(home, wipe=args.wipe)
    out.emit(done.as_json(), render_panic(done))
    return 0


def _need_profile(home: Path) -> None:
    if not profile_exists(home):
        raise UsageError(f"no profile in {home}")


def duress_passphrase() -> str:
    """``$PAYK_DURESS_PASSPHRASE``, else asked twice on the terminal without echo.

    Raises:
        UsageError: none available, or the two entries differ.
    """
    value = os.environ.get("PAYK_DURESS_PASSPHRASE")
    if value is not None:
        return value
    if not sys.stdin.isatty():
        raise UsageError("no duress passphrase: set PAYK_DURESS_PASSPHRASE or use a terminal")
    first = getpass.getpass("duress passphrase: ")
    if getpass.getpass("duress passphrase again: ") != first:
        raise UsageError("the two duress passphrases differ")
    return first


def _duress_set(args: argparse.Namespace, out: Output) -> int:
    relays = [RelayAddress.parse(text) for text in args.relay or []]
    real = passphrase()
    duress = duress_passphrase()

    async def body(client: Client) -> int:
        result = set_duress(
            client.profile, real, duress, name=args.name, relays=relays, now=client.clock()
        )
        out.emit(result.as_json(), render_duress(result))
        return 0

    return run(args, out, body)


def render_lock() -> RenderableType:
    """What ``payk lock`` shows."""
    return Text("🔒 Locked: running payk processes dropped their keys; the passphrase opens it.")


def render_panic(done: Panic) -> RenderableType:
    """What ``payk panic`` shows."""
    if done.wiped:
        return Text("Wiped: the key material is overwritten and the profile's files are removed.")
    return Text("🔒 Locked down: running payk processes dropped their keys; nothing was deleted.")


def render_duress(result: DuressResult) -> RenderableType:
    """What ``payk duress set`` shows."""
    if result.created:
        return Text(
            "Duress passphrase set. It opens a new, empty decoy profile: open payk with it now "
            "and give the decoy harmless contacts and messages. Opening it locks this profile."
        )
    return Text("Duress passphrase changed; the decoy profile keeps its contents.")


def render_timer(setting: TimerSetting) -> RenderableType:
    """A conversation's or group's timer, and who set it."""
    where = f"in {setting.contact}" if setting.group else f"with {setting.contact}"
    if setting.seconds == 0:
        state = f"Messages {where} do not disappear"
    else:
        every = disappearing.format_duration(setting.seconds)
        state = f"Messages {where} disappear {every} after delivery"
    if setting.set_at is not None and not setting.set_by_peer:
        state += " (set by you)"
    elif setting.set_at is not None:
        state += f" (set by {setting.setter})" if setting.group else " (set by them)"
    return Text(state + ".")
