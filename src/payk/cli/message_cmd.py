"""``payk send``, ``sync``, ``listen``, ``history``: messages and files.

Strategy: thin handlers over ``payk.client.Client`` (see ``profile_cmd`` for unlocking and
warnings). ``--json`` output is the CLI.md contract: ``send`` gives ``{"id", "paths"}``,
``sync`` and ``history`` give ``{"messages": [...]}``, ``listen`` prints one message object per
line; ``message_json`` adds ``notice`` to each (a change of the disappearing timer, shown as a
dim line of its own rather than as someone's message). Files larger than 1 MB get a progress
bar on stderr. A decrypted copy of a received file is written only where the person asks:
``--save DIR`` or the ``downloads`` setting (and later ``payk save ID DIR``); otherwise it
stays in the encrypted store. Never into the profile folder.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Group, RenderableType
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn
from rich.text import Text

from payk.cli.output import Output
from payk.cli.profile_cmd import run
from payk.client import disappearing, safety
from payk.client.facade import Client, Sent
from payk.client.messages import Message
from payk.client.paths import path_report
from payk.errors import UsageError

__all__ = [
    "message_json",
    "printable",
    "register",
    "render_message",
    "render_messages",
    "render_sent",
]

PROGRESS_THRESHOLD = 1024 * 1024


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the message commands to the ``payk`` parser."""
    send = sub.add_parser("send", help="send a message or a file to a contact")
    send.add_argument("to", help="the contact's name")
    send.add_argument("text", nargs="?", help="the message")
    send.add_argument("--file", type=Path, help="send this file instead of text")
    send.add_argument(
        "--expire",
        metavar="DURATION",
        help="delete it on both sides (in a group: on every member's device) this long after "
        "delivery (30s, 10m, 1h, 2d, 1w; default: the conversation's timer, see payk disappear)",
    )
    send.add_argument(
        "--reply", metavar="ID", help="answer this message (an id or prefix from history --json)"
    )
    send.set_defaults(handler=_send)
    sync = sub.add_parser("sync", help="fetch over every relay and show what is new")
    sync.add_argument(
        "--wait", type=float, default=0.0, metavar="SECONDS", help="wait this long for something"
    )
    _save_option(sync)
    sync.set_defaults(handler=_sync)
    listen = sub.add_parser("listen", help="stay connected and print messages as they arrive")
    _save_option(listen)
    listen.set_defaults(handler=_listen)
    history = sub.add_parser("history", help="show a conversation")
    history.add_argument("to", help="the contact's name")
    history.add_argument("--limit", type=int, default=50, help="how many messages (default 50)")
    history.set_defaults(handler=_history)


def _save_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--save",
        type=Path,
        metavar="DIR",
        help="write decrypted copies of received files here (default: the downloads setting "
        "in config.toml; without one they stay only in the encrypted store: payk save ID DIR)",
    )


def _with_save(client: Client, args: argparse.Namespace) -> None:
    if args.save is not None:
        client.config = dataclasses.replace(client.config, downloads=args.save)


# --- handlers --------------------------------------------------------------------------------


def _send(args: argparse.Namespace, out: Output) -> int:
    if (args.text is None) == (args.file is None):
        raise UsageError("give either a message or --file PATH")
    if args.reply is not None and args.file is not None:
        raise UsageError("--reply works with text messages, not with --file")
    size = _size(args.file)
    expire = None if args.expire is None else disappearing.parse_duration(args.expire)

    async def body(client: Client) -> int:
        if args.file is None:
            sent = await client.send_text(args.to, args.text, expire=expire, reply_to=args.reply)
        else:
            sent = await _send_file(client, args.to, args.file, size, out, expire)
        out.emit({"id": sent.id, "paths": sent.paths}, render_sent(args.to, sent))
        return 0

    return run(args, out, body)


def _size(path: Path | None) -> int:
    try:
        return path.stat().st_size if path is not None and path.is_file() else 0
    except OSError:
        return 0


async def _send_file(
    client: Client, to: str, path: Path, size: int, out: Output, expire: int | None = None
) -> Sent:
    if out.json_mode or size <= PROGRESS_THRESHOLD:
        return await client.send_file(to, path, expire=expire)
    columns = (TextColumn(path.name), BarColumn(), DownloadColumn())
    with Progress(*columns, console=out.err, transient=True) as bar:
        task = bar.add_task("send", total=size)

        def tick(done: int, total: int) -> None:
            bar.update(task, completed=size * done // max(total, 1))

        return await client.send_file(to, path, progress=tick, expire=expire)


def _sync(args: argparse.Namespace, out: Output) -> int:
    async def body(client: Client) -> int:
        _with_save(client, args)
        messages = await client.sync(wait=max(0.0, args.wait))
        paths = [outcome.as_json() for outcome in path_report(client)]
        out.emit(
            {"messages": [message_json(m) for m in messages], "paths": paths},
            render_messages(messages, empty="Nothing new."),
        )
        return 0

    return run(args, out, body)


def _listen(args: argparse.Namespace, out: Output) -> int:
    async def body(client: Client) -> int:
        _with_save(client, args)
        out.info(Text("Listening; Ctrl-C to stop.", style="dim"))

        async def loop() -> int:
            async for message in client.listen():
                out.emit(message_json(message), render_message(message))
            return 0

        return await safety.until_locked(client, loop())  # payk lock: exit 2, keys dropped

    return run(args, out, body)


def _history(args: argparse.Namespace, out: Output) -> int:
    if args.limit < 1:
        raise UsageError("--limit must be at least 1")

    async def body(client: Client) -> int:
        messages = client.history(args.to, limit=args.limit)
        await client.mark_read(args.to)  # shown now: a read receipt goes back
        out.emit(
            {"messages": [message_json(m) for m in messages]},
            render_messages(messages, empty=f"No messages with {args.to} yet."),
        )
        return 0

    return run(args, out, body)


# --- rendering (pure) ------------------------------------------------------------------------

_STATUS = {
    "queued": "⧗ queued (no relay reachable yet)",
    "sent": "✓ sent",
    "delivered": "✓✓ delivered",
    "read": "✓✓ read",
    "received": "",
    "partial": "… arriving",
    "failed": "✗ did not verify",
}


def render_sent(to: str, sent: Sent) -> RenderableType:
    """What ``payk send`` shows."""
    if sent.paths:
        return Text(f"✓ sent to {to} over {sent.paths} relay(s)  [id {sent.id[:8]}]")
    return Text(f"⧗ queued for {to}: no relay reachable now; it goes out on the next sync")


def printable(text: str) -> str:
    """``text`` without control characters (a peer must not drive the terminal)."""
    return "".join(ch for ch in text if ch.isprintable() or ch in "\n\t")


def message_json(message: Message) -> dict[str, Any]:
    """The CLI.md MESSAGE object: ``Message.as_json`` plus ``notice`` (a timer change, whose
    ``text`` is then the whole sentence, "You set disappearing messages to 1 day")."""
    data = message.as_json()
    data["notice"] = disappearing.is_notice(message)
    if data["notice"]:
        data["text"] = disappearing.notice_line(message)
    return data


def render_message(message: Message) -> RenderableType:
    """One message as a line: who, when, what, and its delivery state; a notice as a dim
    line of its own."""
    if disappearing.is_notice(message):
        return Text(f"— {printable(disappearing.notice_line(message))} —", style="dim italic")
    line = Text()
    quoted = message.quoted()
    if quoted is not None:
        line.append(f"  ↳ “{printable(quoted)}”\n", style="dim italic")
    line.append(f"{message.sender}", style="bold cyan" if message.outgoing else "bold magenta")
    if message.outgoing:
        line.append(f" → {message.conversation}", style="dim")
    line.append(": ")
    if message.text is not None:
        line.append(printable(message.text))
    if message.file_name is not None:
        size = f" ({message.file_size:,} bytes)" if message.file_size is not None else ""
        line.append(f"📎 {message.file_name}{size}", style="underline")
        if not message.outgoing and message.file and message.file != message.file_name:
            line.append(f" saved to {message.file}", style="dim")
        elif not message.outgoing and message.status == "received":
            line.append(f" kept encrypted: payk save {message.id[:8]} DIR", style="dim")
    status = _STATUS.get(message.status, message.status)
    if status:
        line.append(f"  {status}", style="dim")
    if message.expires_at is not None:
        line.append("  ⏱ disappears", style="dim")
    return line


def render_messages(messages: Sequence[Message], *, empty: str) -> RenderableType:
    """A list of messages, or a note that there are none."""
    if not messages:
        return Text(empty, style="dim")
    return Group(*(render_message(m) for m in messages))
