"""One evaluator for many clusters: caller identity, coalescing, shared caches and the rate budget.

The modules here know nothing about HTTP routing or Honeycomb's JSON; the app plugs them in:
`callers` decides who is calling, `coordinator` runs an execution once for everyone who asks
for it (in this process through `singleflight`, across instances through a `StateStore`
backend) and spends Honeycomb's query-result budget through `ratelimit`.
"""
