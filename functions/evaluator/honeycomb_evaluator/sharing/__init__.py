"""One evaluator for many clusters: coalescing, shared caches and the rate budget.

The modules here know nothing about HTTP routing or who the caller is (that is `callers/`):
`executor` runs an execution once for everyone who asks for it (in this process through
`singleflight`, across instances through a `StateStore` backend), `run` is one flight's work,
and `ratelimit` spends Honeycomb's query-result budget.
"""
