"""Canary against baseline: one query, two groups, evidence over every look, a verdict.

`query` rewrites the caller's query into the one comparison query; `groups` reads the result
back (window values and time buckets); `history` keeps the buckets already judged in the state
store; `measure` turns buckets into a metric's evidence (`evidence`, over the e-processes of
`sequential`); `classify` gives one metric's verdict and `scorecard` several metrics' one;
`reason` and `answer` say it. `judge` ties them together and is the only module with I/O.
The statistics are argued in docs/canary-judgement.md.
"""
