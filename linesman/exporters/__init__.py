"""A session written out in other tools' formats (``.prof``, speedscope,
collapsed stacks, JSON), and a ``.prof`` file read back in."""
