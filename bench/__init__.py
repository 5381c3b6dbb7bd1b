"""linesman's benchmark suite: ``python -m bench`` (after ``pip install '.[bench]'``)."""
