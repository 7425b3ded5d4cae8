"""The ``crm`` command: activation's commands plus the ones that span layers (``import``, ``forget``).

Activation's subcommands are defined in :mod:`activation.cli`; commands that reach across extraction, dbt and the ledger
live here, in the task layer, and are added as extensions so the import direction stays one way.
"""

from __future__ import annotations

import sys

from activation import cli as activation_cli
from pipeline import forget, importing


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``crm`` command."""
    return activation_cli.main(argv, extensions=(importing.register, forget.register))


if __name__ == "__main__":
    sys.exit(main())
