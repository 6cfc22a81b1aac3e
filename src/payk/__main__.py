"""``python -m payk`` runs the command line."""

from __future__ import annotations

import sys

from payk.cli.main import main

sys.exit(main())
