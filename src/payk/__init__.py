"""payk: a messenger a government cannot read, cannot ban and cannot easily infiltrate."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
