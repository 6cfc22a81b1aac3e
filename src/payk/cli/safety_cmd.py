"""``payk disappear``, ``lock``, ``panic``, ``duress set``: safety on a seized device.

Strategy: thin handlers over ``payk.client.disappearing`` (conversation timers),
``payk.client.safety`` (lock and panic, which need no passphrase so they work in a hurry and
on a profile another process holds) and ``payk.client.duress`` (the decoy profile). The
design and its limits are in docs/safety.md.
"""

from __future__ import annotations

import argparse

from rich.console import RenderableType
from rich.text import Text

from payk.cli.output import Output
from payk.cli.profile_cmd import run
from payk.client import contacts, disappearing
from payk.client.disappearing import TimerSetting
from payk.client.facade import Client

__all__ = ["register", "render_timer"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the safety commands to the ``payk`` parser."""
    timer = sub.add_parser(
        "disappear", help="show or set a conversation's disappearing-message timer"
    )
    timer.add_argument("contact", help="the contact's name")
    timer.add_argument(
        "duration", nargs="?", help="30s, 10m, 1h, 2d, 1w, or off (omit to show the timer)"
    )
    timer.set_defaults(handler=_disappear)


def _disappear(args: argparse.Namespace, out: Output) -> int:
    seconds = None if args.duration is None else disappearing.parse_duration(args.duration)

    async def body(client: Client) -> int:
        if seconds is None:
            contact = contacts.contact_by_alias(client.profile.db, args.contact)
            setting = disappearing.conversation_timer(client.profile.db, contact.id, contact.alias)
        else:
            setting = await disappearing.set_timer(client, args.contact, seconds)
        out.emit(setting.as_json(), render_timer(setting))
        return 0

    return run(args, out, body)


def render_timer(setting: TimerSetting) -> RenderableType:
    """A conversation's timer, and who set it."""
    if setting.seconds == 0:
        state = f"Messages with {setting.contact} do not disappear"
    else:
        every = disappearing.format_duration(setting.seconds)
        state = f"Messages with {setting.contact} disappear {every} after delivery"
    if setting.set_at is not None:
        state += " (set by them)" if setting.set_by_peer else " (set by you)"
    return Text(state + ".")
