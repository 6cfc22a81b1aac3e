"""Channels on the client (filled in below the groups): create, link, subscribe, post, read."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from payk.errors import UsageError
from payk.protocol import group_content as gc

if TYPE_CHECKING:
    from payk.client.facade import Client

__all__ = ["post", "sync_one"]


async def post(
    client: Client, row: Any, item: gc.GroupContent, *, text: str | None
) -> tuple[str, int]:
    """Post to a channel we run."""
    raise UsageError("channels are not available yet")


async def sync_one(client: Client, row: Any) -> list[int]:
    """Read a channel's feed."""
    return []
