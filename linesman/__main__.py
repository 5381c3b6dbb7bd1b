"""``python -m linesman``: the same as the ``linesman`` command."""

from linesman.cli import main

raise SystemExit(main())
