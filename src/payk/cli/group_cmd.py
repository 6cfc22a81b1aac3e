"""``payk group create|invite|join|approve|remove|members|leave``, plus polls and events.

Strategy: thin handlers over ``payk.client.groups`` (unlocking and warnings as in
``profile_cmd.run``); people see short sentences and a members table, scripts one JSON object:
``create`` ``{"group"}``, ``invite`` ``{"link"}``, ``join`` ``{"group", "status"}``, ``approve``
and ``remove`` ``{"group", "member", "epoch"}``, ``members`` ``{"group", "status", "epoch",
"members": [{"name", "role", "you"}], "pending": [...]}``, ``leave`` ``{"group", "left"}``.
Messages to a group use ``payk send GROUP TEXT``; ``poll``, ``vote`` and ``event`` add those
message types.
"""

from __future__ import annotations

import argparse
import datetime

from rich.table import Table
from rich.text import Text

from payk.cli.output import Output
from payk.cli.profile_cmd import qr_text, run
from payk.client import groups, polls
from payk.client.facade import Client
from payk.client.groups import Roster
from payk.errors import UsageError

__all__ = ["parse_time", "register", "render_roster", "render_tally"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``payk group ...`` to the ``payk`` parser."""
    group = sub.add_parser("group", help="groups: create, invite, join, approve, remove, ...")
    cmds = group.add_subparsers(dest="group_command", metavar="ACTION", required=True)
    create = cmds.add_parser("create", help="create a group you own")
    create.add_argument("name")
    create.set_defaults(handler=_create)
    invite = cmds.add_parser("invite", help="print an invite link (an admin still approves)")
    invite.add_argument("group")
    invite.add_argument("--qr", action="store_true", help="also draw the link as a QR code")
    invite.set_defaults(handler=_invite)
    join = cmds.add_parser("join", help="ask to join the group of an invite link")
    join.add_argument("link")
    join.add_argument("--as", dest="alias", help="your local name for the group")
    join.set_defaults(handler=_join)
    for action, helptext in (("approve", "let in someone who asked"), ("remove", "remove")):
        cmd = cmds.add_parser(action, help=f"{helptext} (starts a new epoch)")
        cmd.add_argument("group")
        cmd.add_argument("member")
        cmd.set_defaults(handler=_approve if action == "approve" else _remove)
    members = cmds.add_parser("members", help="list members and pending requests")
    members.add_argument("group")
    members.set_defaults(handler=_members)
    leave = cmds.add_parser("leave", help="leave a group")
    leave.add_argument("group")
    leave.set_defaults(handler=_leave)
    _register_polls(cmds)


def _register_polls(cmds: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    poll = cmds.add_parser("poll", help="ask the group a question")
    poll.add_argument("group")
    poll.add_argument("question")
    poll.add_argument("options", nargs="+", metavar="OPTION", help="2 to 20 options")
    poll.add_argument("--anonymous", action="store_true", help="the tally shows counts only")
    poll.set_defaults(handler=_poll)
    vote = cmds.add_parser("vote", help="answer a poll (a later vote replaces yours)")
    vote.add_argument("group")
    vote.add_argument("poll", help="the poll id (or its first characters)")
    vote.add_argument("choice", type=int, help="the option's number, from 1")
    vote.set_defaults(handler=_vote)
    tally = cmds.add_parser("tally", help="show a poll's votes")
    tally.add_argument("group")
    tally.add_argument("poll", help="the poll id (or its first characters)")
    tally.set_defaults(handler=_tally)
    event = cmds.add_parser("event", help="announce an event with a reminder")
    event.add_argument("group")
    event.add_argument("title")
    event.add_argument("--at", required=True, help="start: YYYY-MM-DDTHH:MM (UTC) or epoch seconds")
    event.add_argument("--place", default="", help="where")
    event.add_argument(
        "--remind", type=int, default=60, metavar="MINUTES", help="remind this long before"
    )
    event.set_defaults(handler=_event)


def _create(args: argparse.Namespace, out: Output) -> int:
    async def body(client: Client) -> int:
        name = await groups.create(client, args.name)
        out.emit(
            {"group": name},
            Text(f"Created the group {name}. Invite people with payk group invite {name!r}."),
        )
        return 0

    return run(args, out, body)


def _invite(args: argparse.Namespace, out: Output) -> int:
    async def body(client: Client) -> int:
        link = await groups.invite(client, args.group)
        note = "Anyone with this link can ask to join; you approve them with payk group approve."
        human = Text(f"{link}\n{qr_text(link) if args.qr else ''}{note}")
        out.emit({"link": link}, human)
        return 0

    return run(args, out, body)


def _join(args: argparse.Namespace, out: Output) -> int:
    async def body(client: Client) -> int:
        name = await groups.join(client, args.link, alias=args.alias)
        out.emit(
            {"group": name, "status": "pending"},
            Text(
                f"Asked to join {name}; an admin must approve you. "
                "Run payk sync to see when you are in."
            ),
        )
        return 0

    return run(args, out, body)


def _approve(args: argparse.Namespace, out: Output) -> int:
    async def body(client: Client) -> int:
        epoch = await groups.approve(client, args.group, args.member)
        out.emit(
            {"group": args.group, "member": args.member, "epoch": epoch},
            Text(f"{args.member} is now a member of {args.group} (epoch {epoch})."),
        )
        return 0

    return run(args, out, body)


def _remove(args: argparse.Namespace, out: Output) -> int:
    async def body(client: Client) -> int:
        epoch = await groups.remove(client, args.group, args.member)
        out.emit(
            {"group": args.group, "member": args.member, "epoch": epoch},
            Text(f"Removed {args.member} from {args.group}; new key, epoch {epoch}."),
        )
        return 0

    return run(args, out, body)


def _members(args: argparse.Namespace, out: Output) -> int:
    async def body(client: Client) -> int:
        await groups.sync_all(client)
        roster = groups.members(client, args.group)
        data = {
            "group": roster.group,
            "status": roster.status,
            "epoch": roster.epoch,
            "members": [{"name": m.name, "role": m.role, "you": m.you} for m in roster.members],
            "pending": roster.pending,
        }
        out.emit(data, render_roster(roster))
        return 0

    return run(args, out, body)


def _leave(args: argparse.Namespace, out: Output) -> int:
    async def body(client: Client) -> int:
        await groups.leave(client, args.group)
        out.emit({"group": args.group, "left": True}, Text(f"You left {args.group}."))
        return 0

    return run(args, out, body)


def render_roster(roster: Roster) -> Table | Text:
    """The members table for people."""
    if roster.status == "joining":
        return Text(f"Waiting for an admin of {roster.group} to approve you.")
    table = Table(title=f"{roster.group} ({roster.status}, epoch {roster.epoch})")
    table.add_column("member")
    table.add_column("role")
    for m in roster.members:
        table.add_row(m.name + (" (you)" if m.you else ""), m.role)
    for name in roster.pending:
        table.add_row(name, "asks to join")
    return table


def _poll(args: argparse.Namespace, out: Output) -> int:
    async def body(client: Client) -> int:
        poll_id = await polls.send_poll(
            client, args.group, args.question, args.options, anonymous=args.anonymous
        )
        out.emit(
            {"group": args.group, "poll": poll_id},
            Text(f"Asked {args.group}; votes with payk group vote {args.group!r} {poll_id[:8]} N."),
        )
        return 0

    return run(args, out, body)


def _vote(args: argparse.Namespace, out: Output) -> int:
    async def body(client: Client) -> int:
        await groups.sync_all(client)
        vote_id = await polls.send_vote(client, args.group, args.poll, args.choice)
        out.emit({"group": args.group, "vote": vote_id}, Text("Voted."))
        return 0

    return run(args, out, body)


def _tally(args: argparse.Namespace, out: Output) -> int:
    async def body(client: Client) -> int:
        await groups.sync_all(client)
        result = polls.tally(client, args.group, args.poll)
        voters = result.voters
        options = [
            {"option": o, "votes": c, "voters": voters[i] if voters is not None else None}
            for i, (o, c) in enumerate(zip(result.options, result.counts, strict=True))
        ]
        data = {"poll": result.poll, "question": result.question, "options": options}
        out.emit(data, render_tally(result))
        return 0

    return run(args, out, body)


def _event(args: argparse.Namespace, out: Output) -> int:
    starts = parse_time(args.at)

    async def body(client: Client) -> int:
        event_id = await polls.send_event(
            client,
            args.group,
            args.title,
            starts_at=starts,
            place=args.place,
            remind_at=max(0, starts - 60 * args.remind),
        )
        out.emit(
            {"group": args.group, "event": event_id, "starts_at": starts},
            Text(f"Announced {args.title} to {args.group}."),
        )
        return 0

    return run(args, out, body)


def parse_time(text: str) -> int:
    """Epoch seconds from ``YYYY-MM-DDTHH:MM`` (UTC) or a number of seconds.

    Raises:
        UsageError: neither form.
    """
    if text.isdigit():
        return int(text)
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError as exc:
        raise UsageError(f"{text!r} is not a time (use YYYY-MM-DDTHH:MM)") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return int(moment.timestamp())


def render_tally(result: polls.Tally) -> Table:
    """A poll's tally for people."""
    table = Table(title=result.question)
    table.add_column("#")
    table.add_column("option")
    table.add_column("votes")
    if result.voters is not None:
        table.add_column("who")
    for i, (option, count) in enumerate(zip(result.options, result.counts, strict=True)):
        row = [str(i + 1), option, str(count)]
        if result.voters is not None:
            row.append(", ".join(result.voters[i]))
        table.add_row(*row)
    return table
