"""Canary against baseline (issue 11): one query, two groups, a comparison and a verdict.

Pure modules, no I/O: `query` rewrites the caller's query into the one comparison query,
`groups` reads its result back into the two groups, `comparison` and `statistics` compute,
`verdict` decides and `reason` says why in one sentence; `answer` assembles the response fields.
"""
