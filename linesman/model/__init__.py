"""What a profiled request becomes: the session (function rows, caller/callee
pairs, sampled stacks), the views derived from it (call index, graph, trees),
and the stored document's codec. Knows nothing of WSGI, pages or storage."""
