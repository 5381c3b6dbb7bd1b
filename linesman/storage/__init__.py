"""Off the request path: the writer thread that turns finished profiles into
sessions and stores them in batches, its bounded backlog and retries, the
switch and capture windows it polls, retention, and the health counters."""
