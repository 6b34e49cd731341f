"""One evaluator for many clusters: each Honeycomb execution runs once for everyone who asks.

The modules here know nothing about HTTP routing or who the caller is (that is `callers/`).
`executor` answers a request from a cache, a fused query (`fusion` plans it) or its flight
(in this process through `singleflight`, across instances through a state store, `state/`);
`run` is one flight's work, as `steps` decides it; `local` is what this process remembers. The
rate budget a flight spends before creating a result is `budget.py`.
"""
