"""``payk channel create|link|subscribe``: broadcast channels.

Strategy: thin handlers over ``payk.client.channels``. Admins post with ``payk send CHANNEL
TEXT``; subscribers read with ``payk sync`` and ``payk history CHANNEL``. ``--json`` shapes:
``create`` and ``subscribe`` give ``{"channel"}``, ``link`` gives ``{"link"}``.
"""

from __future__ import annotations

import argparse

from rich.text import Text

from payk.cli.output import Output
from payk.cli.profile_cmd import qr_text, run
from payk.client import channels
from payk.client.facade import Client

__all__ = ["register"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``payk channel ...`` to the ``payk`` parser."""
    channel = sub.add_parser("channel", help="broadcast channels: create, link, subscribe")
    cmds = channel.add_subparsers(dest="channel_command", metavar="ACTION", required=True)
    create = cmds.add_parser("create", help="create a channel you post to")
    create.add_argument("name")
    create.set_defaults(handler=_create)
    link = cmds.add_parser("link", help="print the subscription link of your channel")
    link.add_argument("channel")
    link.add_argument("--qr", action="store_true", help="also draw the link as a QR code")
    link.set_defaults(handler=_link)
    subscribe = cmds.add_parser("subscribe", help="follow a channel from its link")
    subscribe.add_argument("link")
    subscribe.add_argument("--as", dest="alias", help="your local name for the channel")
    subscribe.set_defaults(handler=_subscribe)


def _create(args: argparse.Namespace, out: Output) -> int:
    async def body(client: Client) -> int:
        name = await channels.create(client, args.name)
        out.emit(
            {"channel": name},
            Text(
                f"Created the channel {name}. Share payk channel link {name!r}; "
                f"post with payk send {name!r} TEXT."
            ),
        )
        return 0

    return run(args, out, body)


def _link(args: argparse.Namespace, out: Output) -> int:
    async def body(client: Client) -> int:
        text = channels.link(client, args.channel)
        note = "Anyone with this link can read the channel; only you can post."
        out.emit({"link": text}, Text(f"{text}\n{qr_text(text) if args.qr else ''}{note}"))
        return 0

    return run(args, out, body)


def _subscribe(args: argparse.Namespace, out: Output) -> int:
    async def body(client: Client) -> int:
        name = await channels.subscribe(client, args.link, alias=args.alias)
        out.emit({"channel": name}, Text(f"Following {name}; new posts arrive with payk sync."))
        return 0

    return run(args, out, body)
