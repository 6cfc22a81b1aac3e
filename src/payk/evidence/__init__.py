"""payk.evidence: the evidence vault, its append-only Merkle log, bundles and their checks.

Data flow: ``capture`` reads a file; ``statement`` signs what is known about it; ``vault``
stores it in the encrypted profile and appends it to the ``merkle`` log; ``bundle`` writes a
self-contained zip and ``check`` verifies one offline; ``transfer`` sends an item to a contact
and files what arrives. ``jpeg`` and ``keys`` are small pure helpers. See docs/evidence.md.
"""

from __future__ import annotations

__all__: list[str] = []
