"""The ``linesman`` command: list, show, export, compare and prune stored
sessions, open a ``.prof`` file in the UI, run the demo."""

from linesman.cli.main import main

__all__ = ["main"]
