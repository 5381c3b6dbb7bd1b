"""Sphinx configuration: ``sphinx-build -W -b html docs docs/_build`` (warnings
are errors; CI builds it so)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import linesman  # noqa: E402

project = "linesman"
author = "the linesman developers"
release = linesman.__version__
version = release
extensions = ["sphinx.ext.autodoc"]
autodoc_member_order = "bysource"
autodoc_typehints = "description"
exclude_patterns = ["_build", "screenshots"]
html_theme = "alabaster"
nitpicky = False
