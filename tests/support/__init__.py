"""The suite's helpers: apps to wrap, clients, real servers, stores and sessions,
imported as ``support.NAME`` (tests/ is on the path, the checkout's root is not,
so the suite imports linesman as installed)."""
