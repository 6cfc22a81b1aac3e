"""docs/benchmarks.md from one run's results: the goals first, then a table per area.

Strategy: the headline is a table of ratios against the goals of the benchmark issue, each
read from the results of this run and marked met or missed as measured (a ratio that could
not be measured says so rather than passing). Where a goal is missed, the cause found with a
profiler is printed under the table; those causes are written here, beside the goals, and
appear only when the goal is missed in the run being rendered, followed by any sentence the
goal phrases from this run's own figures (what the relay area's TLS forwarder shows). Each
area then gets its own table, opened by such a sentence where it has one and no missed goal
printed it already: lists of points and groups of same-shaped figures become one row per
entry, a median with ``_min``/``_max`` siblings prints as ``median (min-max)``, and anything
else falls back to one row per figure. Rendering is pure: the results, the machine and the
plot paths come in, text goes out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "GOALS",
    "Goal",
    "cpu_ceiling",
    "group_flatness",
    "headline",
    "render",
    "tls_ceiling",
    "tls_floor",
]

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True, slots=True)
class Goal:
    """One goal: how to read its ratio from the results, the bar, and the cause if missed.

    ``evidence``, when given, phrases a sentence from the run's own figures that is printed
    after the cause (None when the run lacks them).
    """

    name: str
    measure: str
    read: Callable[[dict[str, Any]], float | None]
    target: float
    cause: str
    evidence: Callable[[dict[str, Any]], str | None] | None = None


def _at(*path: str) -> Callable[[dict[str, Any]], float | None]:
    def read(results: dict[str, Any]) -> float | None:
        value = _dig(results, path)
        return float(value) if isinstance(value, int | float) else None

    read.path = path  # type: ignore[attr-defined]  # where the spread lives, beside it
    return read


def _spread(results: dict[str, Any], read: Callable[[dict[str, Any]], Any]) -> str:
    """`` (min-max)`` of a ratio read with ``_at`` when its repeats were recorded, else ''."""
    path: tuple[str, ...] = getattr(read, "path", ())
    if not path:
        return ""
    low = _dig(results, (*path[:-1], f"{path[-1]}_min"))
    high = _dig(results, (*path[:-1], f"{path[-1]}_max"))
    if isinstance(low, int | float) and isinstance(high, int | float):
        return f" ({low:.3g}-{high:.3g})"
    return ""


def _dig(data: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def _send_curve(data: Any) -> list[dict[str, Any]] | None:
    """The groups area's send-cost curve: the first list of points under a key naming sends."""
    if not isinstance(data, dict):
        return None
    for key, value in data.items():
        points = value.get("points") if isinstance(value, dict) else value
        if "send" in key and isinstance(points, list) and len(points) >= 2:
            if all(isinstance(p, dict) for p in points):
                return points
        found = _send_curve(value)
        if found:
            return found
    return None


_COST_HINTS = ("_ms", "_us", "seconds", "cost")


def group_flatness(results: dict[str, Any]) -> float | None:
    """Send cost at the smallest group over the cost at the largest (1.0: perfectly flat).

    The cost of a point is the sum of its cost-like columns (``_us``, ``_ms``, seconds), so
    the protocol's part and the client's part around it count together.
    """
    points = _send_curve(results.get("groups"))
    if not points:
        return None
    numeric = [k for k, v in points[0].items() if isinstance(v, int | float)]
    costs = [k for k in numeric[1:] if any(h in k for h in _COST_HINTS)]
    if not numeric or not costs:
        return None
    ordered = sorted(points, key=lambda p: p[numeric[0]])
    small, large = (sum(float(p.get(k) or 0) for k in costs) for p in (ordered[0], ordered[-1]))
    return small / large if large > 0 else None


def _largest_common_load(servers: list[Any]) -> str | None:
    """The load key (``pairs_N``) with the most pairs that every server measured."""
    loads = [
        {k for k, v in server.items() if k.startswith("pairs_") and isinstance(v, dict)}
        for server in servers
        if isinstance(server, dict)
    ]
    common = set.intersection(*loads) if len(loads) == len(servers) and loads else set()
    return max(common, key=lambda k: int(k.removeprefix("pairs_")), default=None)


_NO_SETUP = "server_cpu_s_per_msg_no_setup"
_FLOOR = ("forwarder", "forwarder_tls", "payk_sqlite")


def _floor_figures(results: dict[str, Any]) -> tuple[str, bool, list[tuple[float, float]]]:
    """The largest load all of ``_FLOOR`` ran, whether their CPU figures leave connecting out
    (only if all of them do), and each one's messages/s and server CPU us per message there.

    Raises:
        LookupError: the relay area lacks a figure the sentence needs.
    """
    relay = results.get("relay")
    if not isinstance(relay, dict):
        raise LookupError("no relay area")
    load = _largest_common_load([relay.get(n) for n in _FLOOR])
    if load is None:
        raise LookupError("no load that every server ran")
    rows = [relay[n][load] for n in _FLOOR]
    aside = all(_NO_SETUP in row for row in rows)
    cpu = _NO_SETUP if aside else "server_cpu_s_per_msg"
    return load, aside, [(float(r["msgs_per_s"]), float(r[cpu]) * 1e6) for r in rows]


def tls_floor(results: dict[str, Any]) -> str | None:
    """What the relay area's TLS forwarder shows, in one sentence from this run's figures.

    Read at the largest load that the bare forwarder, the TLS forwarder and the payk relay
    all ran: TLS's cost on the forwarder, the relay against each forwarder, and the share of
    the relay's extra CPU per message (over the bare forwarder) that TLS alone accounts for.
    """
    try:
        load, aside, [(bare, bare_us), (tls, tls_us), (payk, payk_us)] = _floor_figures(results)
    except (LookupError, TypeError, ValueError):
        return None
    if not (bare and tls):
        return None
    pairs = load.removeprefix("pairs_")
    sentence = (
        f"In the relay area at {pairs} pair{'' if pairs == '1' else 's'}, TLS takes the bare "
        f"forwarder from {bare:,.0f} to {tls:,.0f} messages/s ({tls / bare:.2f}x) and from "
        f"{bare_us:.0f} to {tls_us:.0f} us of server CPU per message"
        f"{' (connecting aside)' if aside else ''}, and the payk relay, at {payk_us:.0f} us, "
        f"reaches {payk / tls:.2f}x the TLS forwarder's messages/s against {payk / bare:.2f}x "
        "the bare one's"
    )
    if payk_us > bare_us:
        sentence += (
            f", so TLS on the forwarder's three frames per message accounts for "
            f"{(tls_us - bare_us) / (payk_us - bare_us):.0%} of the {payk_us - bare_us:.0f} us "
            "the relay spends per message beyond the bare forwarder"
        )
    return sentence + "."


def cpu_ceiling(results: dict[str, Any]) -> str | None:
    """What the end-to-end area's CPU readings bound, in one sentence from this run's figures:
    the CPU one pipelined payk message costs the sender, the receiver and the relay together,
    and the most messages per second the machine's cores could carry at that cost."""
    payk = _dig(results, ("synapse", "payk"))
    ratios = _dig(results, ("synapse", "ratios"))
    if not isinstance(payk, dict) or not isinstance(ratios, dict):
        return None
    try:
        clients = float(payk["clients_cpu_ms_per_msg"])
        server = float(payk["server_cpu_ms_per_msg"])
        ceiling = float(ratios["payk_cpu_ceiling_msgs_per_s"])
        over = float(ratios["payk_cpu_ceiling_over_synapse"])
    except (KeyError, TypeError, ValueError):
        return None
    text = (
        f"In this run one pipelined payk message cost {clients + server:.2f} ms of CPU in all "
        f"({clients:.2f} ms in the two clients, {server:.2f} ms in the relay), so even with "
        f"nothing ever waiting this machine's cores could carry at most about {ceiling:,.0f} "
        f"messages/s, {over:.1f}x Synapse's better mode."
    )
    try:
        sender = float(payk["sender_cpu_ms_per_msg"])
        alone = float(ratios["payk_sender_ceiling_msgs_per_s"])
        alone_over = float(ratios["payk_sender_ceiling_over_synapse"])
    except (KeyError, TypeError, ValueError):  # a run from before the split was recorded
        return text
    busy = float(payk["msgs_per_s"]) * sender / 1000
    return (
        f"{text} The sender is one process and so runs on one core: it spent {sender:.2f} ms "
        f"per message and was busy {busy:.0%} of the run, and at that cost one sender can "
        f"never pass about {alone:,.0f} messages/s ({alone_over:.1f}x), however idle the other "
        "core is."
    )


def tls_ceiling(results: dict[str, Any]) -> str | None:
    """Where the capacity area's TLS forwarder stands against Mosquitto, in one sentence."""
    area = _dig(results, ("mosquitto_peer",))
    if not isinstance(area, dict):
        return None
    try:
        tls = float(area["forwarder_tls"]["server_cpu_us_per_msg"])
        bare = float(area["forwarder"]["server_cpu_us_per_msg"])
        mqtt = float(area["mosquitto"]["server_cpu_us_per_msg"])
        payk = float(area["payk_sqlite"]["server_cpu_us_per_msg"])
    except (KeyError, TypeError, ValueError):
        return None
    if not (tls and bare and payk):
        return None
    return (
        f"In this run the forwarder spent {bare:.0f} us per message bare and {tls:.0f} us with "
        f"TLS and nothing stored, which is {mqtt / tls:.2f}x Mosquitto's capacity per core "
        f"before a relay stores or checks anything; the payk relay spent {payk:.0f} us."
    )


GOALS = (
    Goal(
        "End-to-end delivery vs Synapse",
        "payk messages/s (the library's send_text(wait=False), 32 in flight) over the better of "
        "Synapse's two modes (one PUT at a time, or 32 in flight), one sender and one "
        "receiver, same count",
        _at("synapse", "ratios", "payk_over_synapse_msgs_per_s"),
        20.0,
        "Profiled with py-spy across the three processes, and each process's CPU read from "
        "/proc. Fixed in payk along the way: the sender returns once a message is sealed and "
        "written, and the sends made while a flush waits for a relay share one transaction (a "
        "group commit, made before any of their envelopes leaves, or within 20 ms), so a burst "
        "writes the pages its messages share once, and a contact's ratchet is pickled, sealed "
        "and stored once per commit rather than once per message (also on the receiver, once "
        "per batch of pushes); the outbox keeps 32 envelopes in flight per mailbox and sends "
        "a window as one frame (SendMany), which the relay stores with one group commit while "
        "reading the next; the receiver commits every push that arrived meanwhile at once, "
        "makes it durable with one fsync per ack round and acks without asking for an answer; "
        "the relay pushes several envelopes per frame; a session saved in a process is reused "
        "while the store holds exactly its bytes. What is left is CPU that payk's design "
        "spends on both devices and the relay, all three sharing this machine's two cores: "
        "every message is sealed (Olm inside the post-quantum layer) and opened, stored in "
        "SQLCipher on both sides with its page encryption, and carried over TLS twice. "
        "Synapse's clients do no cryptography and store nothing, and Synapse gains about 2.5x "
        "itself with 32 PUTs in flight.",
        evidence=cpu_ceiling,
    ),
    Goal(
        "Relay vs bare forwarder",
        "payk relay messages/s over the bare WebSocket forwarder's, same load",
        _at("mosquitto_peer", "ratios", "payk_over_forwarder_msgs_per_s"),
        0.7,
        "Profiled with py-spy and per-thread CPU from /proc. Fixed in payk along the way: "
        "uvloop; the just-stored envelope is pushed without reading it back; acks commit "
        "without an fsync and ask for no answer; a send and an ack are one SQL statement "
        "each; answers are padded and encoded once; metric children are cached; no timer per "
        "frame. The relay went from about 850 messages/s before this work to 4,000-5,500 (run"
        " to run) under this load. What is left: the forwarder has no TLS and stores nothing,"
        " while the relay encrypts every frame, stores every envelope durably before it says "
        "accepted and deletes it on the ack (about 50 us per message in its SQLite writer "
        "thread), and speaks four frames per message (the send, its answer, the push, the "
        "ack) to the forwarder's three. Fewer frames per message only help where messages "
        "queue up (a backlog goes several envelopes to a push frame); this load sends one "
        "message at a time and waits for each.",
        evidence=tls_floor,
    ),
    Goal(
        "Relay per-core capacity vs Mosquitto",
        "payk relay messages per CPU-second over Mosquitto's (QoS 1, no persistence)",
        _at("mosquitto_peer", "ratios", "payk_over_mosquitto_per_core"),
        0.3,
        "Same causes as the forwarder gap: Mosquitto is C, keeps nothing on disk and runs "
        "without TLS here, while the payk relay makes every envelope durable before "
        "accepting it and encrypts every frame; 0.3x would leave the relay little more CPU "
        "per message than a Python forwarder spends on TLS alone.",
        evidence=tls_ceiling,
    ),
    Goal(
        "Group send cost flat in group size",
        "send cost at the smallest group over the cost at the largest (1 = flat), "
        "from the groups area",
        group_flatness,
        0.5,
        "The groups area reports the send cost growing with the group size; see its table "
        "below for the curve.",
    ),
)


def headline(results: dict[str, Any]) -> list[tuple[Goal, float | None, str]]:
    """Each goal with its measured ratio and verdict: met, missed or not measured."""
    rows: list[tuple[Goal, float | None, str]] = []
    for goal in GOALS:
        value = goal.read(results)
        if value is None:
            rows.append((goal, None, "not measured"))
        else:
            rows.append((goal, float(value), "met" if value >= goal.target else "missed"))
    return rows


def fmt(value: Any) -> str:
    """A figure as printed: four significant digits for floats."""
    if isinstance(value, bool) or not isinstance(value, float):
        return str(value)
    if abs(value) >= 1000:
        return f"{value:.0f}"
    if value != 0 and abs(value) < 1e-3:
        return f"{value:.3g}"
    return f"{value:.4g}"


def _cell(figures: dict[str, Any], key: str) -> str:
    value = figures.get(key, "")
    low, high = figures.get(f"{key}_min"), figures.get(f"{key}_max")
    if low is None or high is None:
        return fmt(value)
    return f"{fmt(value)} ({fmt(low)}-{fmt(high)})"


def _columns(rows: list[dict[str, Any]]) -> list[str]:
    columns: list[str] = []
    for row in rows:
        for key, value in row.items():
            if key.endswith(("_min", "_max")) or isinstance(value, dict | list):
                continue
            if key not in columns:
                columns.append(key)
    return columns


def _matrix(names: list[str], rows: list[dict[str, Any]], first: str) -> list[str]:
    columns = _columns(rows)
    lines = [f"| {first} | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for name, row in zip(names, rows, strict=True):
        lines.append(f"| {name} | " + " | ".join(_cell(row, c) for c in columns) + " |")
    return lines


def _is_figures(value: Any) -> bool:
    return isinstance(value, dict) and any(not isinstance(v, dict | list) for v in value.values())


def _flatten(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _flatten(inner, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        for i, inner in enumerate(value):
            yield from _flatten(inner, f"{prefix}[{i}]")
    else:
        yield prefix, value


def _flat(value: Any) -> bool:
    """A dict of plain figures (one table row)."""
    return isinstance(value, dict) and all(not isinstance(v, dict | list) for v in value.values())


def _section(title: str, data: Any) -> list[str]:
    """One area: its scalars, one table of its same-level figure groups, then the rest."""
    if not isinstance(data, dict):
        return [f"**{title}**: {fmt(data)}", ""]
    lines: list[str] = []
    scalars = {k: v for k, v in data.items() if not isinstance(v, dict | list)}
    if scalars:
        lines += ["| figure | value |", "|---|---|"]
        lines += [f"| {k} | {_cell(scalars, k)} |" for k in _columns([scalars])]
        lines.append("")
    shapes: dict[frozenset[str], dict[str, Any]] = {}
    for key, value in data.items():
        if _flat(value) and not key.startswith("ratio"):
            shapes.setdefault(frozenset(value), {})[key] = value
    tabled = set()
    for rows in shapes.values():
        if len(rows) >= 2:
            lines += [*_matrix(list(rows), list(rows.values()), title), ""]
            tabled |= set(rows)
    for key, value in data.items():
        if isinstance(value, dict | list) and key not in tabled:
            lines += _group(f"{title} / {key}", key, value)
    return lines


def _group(title: str, key: str, value: Any) -> list[str]:
    points = value.get("points") if isinstance(value, dict) else value
    if isinstance(points, list) and points and all(isinstance(p, dict) for p in points):
        extra = [f"{k}: {fmt(v)}" for k, v in value.items() if k != "points"]
        head = [f"*{title}*" + (f" ({'; '.join(extra)})" if extra else ""), ""]
        return [*head, *_matrix([str(i + 1) for i in range(len(points))], points, "#"), ""]
    if isinstance(value, dict):
        entries = {k: v for k, v in value.items() if _is_figures(v)}
        if len(entries) >= 1 and len(entries) == len(value):
            return [f"*{title}*", "", *_matrix(list(entries), list(entries.values()), key), ""]
    lines = [f"*{title}*", "", "| figure | value |", "|---|---|"]
    if _flat(value):
        lines += [f"| {k} | {_cell(value, k)} |" for k in _columns([value])]
    else:
        lines += [f"| {k} | {fmt(v)} |" for k, v in _flatten(value)]
    return [*lines, ""]


TITLES = {
    "synapse": "End to end: payk vs Matrix Synapse",
    "mosquitto_peer": "Relay capacity: payk vs Mosquitto vs bare forwarder",
    "relay": "Relay: bare forwarder, TLS forwarder, payk and Mosquitto at 1 and 100 pairs",
    "client": "Client end to end",
    "crypto": "Client crypto: payk pairwise vs bare Olm and ChaCha20-Poly1305",
    "megolm": "Client crypto: bare Megolm",
    "store": "Relay store (SQLite)",
    "scale": "Scale curves",
    "groups": "Groups and channels",
    "paths": "Paths",
    "front": "Relay behind an nginx front, and cached channel reads",
}


# a sentence from the run's figures opening an area, unless a missed goal's cause has it
AREA_NOTES: dict[str, Callable[[dict[str, Any]], str | None]] = {
    "synapse": cpu_ceiling,
    "relay": tls_floor,
}


def _goal_lines(results: dict[str, Any]) -> list[str]:
    lines = [
        "## Goals",
        "",
        "| goal | measure | target | measured (spread over repeats) | verdict |",
        "|---|---|---|---|---|",
    ]
    rows = headline(results)
    for goal, value, verdict in rows:
        shown = "-" if value is None else f"{value:.3g}x{_spread(results, goal.read)}"
        lines.append(
            f"| {goal.name} | {goal.measure} | >= {goal.target:g}x | {shown} | **{verdict}** |"
        )
    lines.append("")
    for goal, _value, verdict in rows:
        if verdict == "missed":
            evidence = goal.evidence(results) if goal.evidence else None
            cause = f"{goal.cause} {evidence}" if evidence else goal.cause
            lines += [f'**Why "{goal.name}" is missed.** {cause}', ""]
    return lines


def _ratio(top: tuple[str, ...], bottom: tuple[str, ...]) -> Callable[[dict[str, Any]], Any]:
    def read(results: dict[str, Any]) -> float | None:
        a, b = _dig(results, top), _dig(results, bottom)
        if isinstance(a, int | float) and isinstance(b, int | float) and b:
            return float(a) / float(b)
        return None

    return read


def _last_over_first(area: str, curve: str, key: str) -> Callable[[dict[str, Any]], Any]:
    def read(results: dict[str, Any]) -> float | None:
        points = _dig(results, (area, curve, "points"))
        if isinstance(points, list) and len(points) >= 2 and points[0].get(key):
            return float(points[-1][key]) / float(points[0][key])
        return None

    return read


def _sync_time_growth(results: dict[str, Any]) -> float | None:
    """Seconds per message at the largest backlog over the smallest (1: linear in N)."""
    rates = _last_over_first("scale", "sync_vs_backlog", "sync_msgs_per_s")(results)
    return 1 / rates if rates else None


_MEGOLM = ("megolm", "megolm_seal_open_us")
_RELAY_100 = ("pairs_100", "msgs_per_s")
_PAIRWISE = ("crypto", "message_256B_seal_open")
CONTEXT = (
    (
        "payk one message at a time over Synapse one PUT at a time (end to end)",
        _at("synapse", "ratios", "one_by_one_payk_over_synapse_msgs_per_s"),
    ),
    (
        "Synapse server CPU per message over the payk relay's (end to end, one at a time)",
        _at("synapse", "ratios", "synapse_over_payk_server_cpu_per_msg"),
    ),
    (
        "payk relay messages/s per core over the bare forwarder's",
        _at("mosquitto_peer", "ratios", "payk_over_forwarder_per_core"),
    ),
    (
        "payk relay messages/s over the TLS forwarder's (relay area, 100 pairs)",
        _at("relay", "ratios_vs_forwarder_tls", "payk_sqlite", *_RELAY_100),
    ),
    (
        "TLS forwarder messages/s over the bare forwarder's (relay area, 100 pairs)",
        _at("relay", "ratios_vs_forwarder", "forwarder_tls", *_RELAY_100),
    ),
    (
        "payk pairwise seal + open over bare Olm",
        _at("crypto", "ratios", "payk_over_olm_per_message"),
    ),
    (
        "payk pairwise seal + open over bare Megolm encrypt + decrypt",
        _ratio((*_PAIRWISE, "payk", "median_us"), _MEGOLM),
    ),
    (
        "payk pairwise seal + open over bare ChaCha20-Poly1305",
        _at("crypto", "ratios", "payk_over_aead_per_message"),
    ),
    (
        "relay resident memory, most mailboxes over fewest",
        _last_over_first("scale", "relay_vs_mailboxes", "rss_loaded_mib"),
    ),
    (
        "relay messages/s, most mailboxes over fewest",
        _last_over_first("scale", "relay_vs_mailboxes", "msgs_per_s"),
    ),
    ("sync time per message, largest backlog over smallest", _sync_time_growth),
)


def _context_lines(results: dict[str, Any]) -> list[str]:
    lines = ["Other ratios from the same run (no goal attached):", "", "| ratio | measured |"]
    lines.append("|---|---|")
    for label, read in CONTEXT:
        value = read(results)
        lines.append(f"| {label} | {'-' if value is None else f'{value:.3g}x'} |")
    return [*lines, ""]


def render(
    results: dict[str, Any],
    *,
    mode: str,
    machine: dict[str, Any],
    date: str,
    plots: list[Path],
) -> str:
    """The whole page for one run."""
    lines = [
        "# payk benchmarks",
        "",
        f"Generated by `make bench{'' if mode == 'quick' else '-full'}` ({mode} mode) on "
        f"{date}, all figures from that one run: {machine['cores']} cores, "
        f"{machine['memory_gib']} GiB memory, Python {machine['python']}, {machine['platform']}.",
        "",
    ]
    preamble = ROOT / "bench" / "PREAMBLE.md"
    if preamble.exists():
        lines += [preamble.read_text().rstrip(), ""]
    goals = _goal_lines(results)
    lines += goals + _context_lines(results)
    if plots:
        lines += ["## Plots", ""]
        lines += [f"![{p.stem}](plots/{p.name})" for p in plots]
        lines.append("")
    for area, data in results.items():
        lines += [f"## {TITLES.get(area, area)}", ""]
        note = AREA_NOTES[area](results) if area in AREA_NOTES else None
        if note and not any(note in line for line in goals):  # said once on the page
            lines += [note, ""]
        lines += _section(area, data)
    return "\n".join(lines).rstrip() + "\n"
