"""``payk init``, ``invite``, ``accept``, ``contacts``, ``verify``: the profile and contacts.

Strategy: each handler unlocks the profile (passphrase from ``$PAYK_PASSPHRASE`` or asked
without echo), calls one ``payk.client.Client`` method inside ``asyncio.run``, and emits the
CLI.md ``--json`` object or a rich rendering built by a pure ``render_*`` function. Problems
with single relays are warnings on stderr; errors are ``PaykError``s that ``payk.cli.main``
turns into one sentence and an exit code. The helpers here (``open_client``, ``run``) are
shared with the message commands.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import io
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import segno
from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from payk.cli.output import Output
from payk.client.config import default_home
from payk.client.contacts import Contact
from payk.client.facade import Client, Safety
from payk.client.paths import use_paths
from payk.errors import UsageError
from payk.protocol.address import RelayAddress

__all__ = [
    "open_client",
    "passphrase",
    "qr_text",
    "register",
    "render_accepted",
    "render_contacts",
    "render_init",
    "render_invite",
    "render_safety",
    "run",
]

ClientBody = Callable[[Client], Awaitable[int]]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the profile and contact commands to the ``payk`` parser."""
    init = sub.add_parser("init", help="create the encrypted profile")
    init.add_argument("--name", required=True, help="the name your new contacts will see")
    init.add_argument(
        "--relay",
        action="append",
        required=True,
        metavar="ADDRESS",
        help="payk://FINGERPRINT@HOST:PORT (repeat for several relays)",
    )
    init.set_defaults(handler=_init)
    invite = sub.add_parser("invite", help="print a one-time invitation link")
    invite.add_argument("--qr", action="store_true", help="also draw the link as a QR code")
    invite.add_argument("--ttl-days", type=float, default=7.0, help="valid this long (default 7)")
    invite.set_defaults(handler=_invite)
    accept = sub.add_parser("accept", help="accept an invitation link")
    accept.add_argument("link", help="the payk:invite... link")
    accept.add_argument("--as", dest="alias", help="your name for this contact")
    accept.set_defaults(handler=_accept)
    contacts = sub.add_parser("contacts", help="list contacts")
    contacts.set_defaults(handler=_contacts)
    verify = sub.add_parser("verify", help="show a contact's safety code")
    verify.add_argument("contact")
    verify.add_argument(
        "--confirm", action="store_true", help="mark it verified (after comparing it in person)"
    )
    verify.set_defaults(handler=_verify)


# --- shared helpers ------------------------------------------------------------------------


def home_of(args: argparse.Namespace) -> Path:
    """The profile folder: ``--home``, else ``$PAYK_HOME``, else the platform default."""
    return Path(args.home) if args.home is not None else default_home()


def passphrase(*, confirm: bool = False) -> str:
    """``$PAYK_PASSPHRASE``, else asked on the terminal without echo.

    Raises:
        UsageError: no passphrase available, or the two entries differ.
    """
    value = os.environ.get("PAYK_PASSPHRASE")
    if value is not None:
        return value
    if not sys.stdin.isatty():
        raise UsageError("no passphrase: set PAYK_PASSPHRASE or run payk in a terminal")
    first = getpass.getpass("passphrase: ")
    if confirm and getpass.getpass("passphrase again: ") != first:
        raise UsageError("the two passphrases differ")
    return first


def open_client(args: argparse.Namespace) -> Client:
    """Unlock the profile named by the arguments."""
    client = Client.open(home_of(args), passphrase())
    paths = {key: getattr(args, key, None) for key in ("proxy", "bridge", "via")}
    try:
        use_paths(client, **paths)
    except BaseException:
        client.profile.close()
        raise
    return client


def run(args: argparse.Namespace, out: Output, body: ClientBody) -> int:
    """Unlock the profile, run ``body`` in an event loop, show warnings, close everything."""
    client = open_client(args)

    async def main() -> int:
        try:
            return await body(client)
        finally:
            for warning in client.warnings:
                out.err.print(Text(f"payk: warning: {warning}"))
            await client.close()

    return asyncio.run(main())


def qr_text(data: str | bytes) -> str:
    """A QR code drawn with block characters for the terminal."""
    buffer = io.StringIO()
    segno.make(data, error="l").terminal(out=buffer, compact=True)
    return buffer.getvalue()


# --- handlers --------------------------------------------------------------------------------


def _init(args: argparse.Namespace, out: Output) -> int:
    relays = [RelayAddress.parse(text) for text in args.relay]
    client = Client.create(home_of(args), passphrase(confirm=True), name=args.name, relays=relays)
    try:
        out.emit(
            {"name": client.name, "relays": client.relays},
            render_init(client.name, client.relays, client.profile.home),
        )
    finally:
        asyncio.run(client.close())
    return 0


def _invite(args: argparse.Namespace, out: Output) -> int:
    async def body(client: Client) -> int:
        link = await client.invite(ttl=max(60, int(args.ttl_days * 86400)))
        out.emit({"link": link}, render_invite(link, qr_text(link) if args.qr else None))
        return 0

    return run(args, out, body)


def _accept(args: argparse.Namespace, out: Output) -> int:
    async def body(client: Client) -> int:
        alias = await client.accept(args.link, alias=args.alias)
        out.emit({"contact": alias}, render_accepted(alias, named=args.alias is not None))
        return 0

    return run(args, out, body)


def _contacts(args: argparse.Namespace, out: Output) -> int:
    async def body(client: Client) -> int:
        found = client.contacts()
        out.emit(
            {"contacts": [{"name": c.alias, "verified": c.verified} for c in found]},
            render_contacts(found),
        )
        return 0

    return run(args, out, body)


def _verify(args: argparse.Namespace, out: Output) -> int:
    async def body(client: Client) -> int:
        safety = client.confirm(args.contact) if args.confirm else client.safety(args.contact)
        out.emit(
            {"contact": safety.contact, "code": safety.code, "verified": safety.verified},
            render_safety(safety, qr_text(safety.qr)),
        )
        return 0

    return run(args, out, body)


# --- rendering (pure) ------------------------------------------------------------------------


def render_init(name: str, relays: Sequence[str], home: Path) -> RenderableType:
    """What ``payk init`` shows."""
    lines = Text(f"Profile for {name} created in {home}\n", style="bold")
    lines.append("Relays:\n")
    for relay in relays:
        lines.append(f"  • {relay}\n")
    lines.append("Next: payk invite  (or payk accept LINK)")
    return Panel(lines, title="payk", border_style="green")


def render_invite(link: str, qr: str | None) -> RenderableType:
    """What ``payk invite`` shows: the link (and the QR code)."""
    parts: list[RenderableType] = [
        Text("Give this one-time link to one person, over a channel you trust:", style="bold"),
        Text(link, overflow="fold"),
    ]
    if qr is not None:
        parts.append(Text(qr, no_wrap=True, overflow="crop"))
    parts.append(Text("They run: payk accept LINK — then you run: payk sync", style="dim"))
    return Group(*parts)


def render_accepted(alias: str, *, named: bool) -> RenderableType:
    """What ``payk accept`` shows."""
    if named:
        return Text(f"✓ {alias} is now a contact. Next: payk verify {alias!r}")
    return Text(
        f"✓ Accepted. They are listed as {alias!r} until their answer brings their name "
        "(payk sync); or choose a name with payk accept LINK --as NAME next time."
    )


def render_contacts(found: Sequence[Contact]) -> RenderableType:
    """The contact list as a table."""
    if not found:
        return Text("No contacts yet. Start with: payk invite", style="dim")
    table = Table(title="Contacts")
    table.add_column("name")
    table.add_column("verified")
    for contact in found:
        table.add_row(contact.alias, "✓ verified" if contact.verified else "not yet")
    return table


def render_safety(safety: Safety, qr: str | None) -> RenderableType:
    """A safety code to compare, with what to do about it."""
    state = (
        Text("✓ verified", style="green")
        if safety.verified
        else Text(f"not verified: compare in person, then payk verify {safety.contact!r} --confirm")
    )
    parts: list[RenderableType] = [Text(safety.code, style="bold cyan"), state]
    if qr is not None:
        parts.append(Text(qr, no_wrap=True, overflow="crop"))
    return Panel(Group(*parts), title=f"Safety code with {safety.contact}")
