"""The UI under ``profiler_path``: the access and CSRF shell, the pages, and
the JSON API. It reads the store and asks the middleware's controls to change
the switch and capture windows; it never profiles."""
