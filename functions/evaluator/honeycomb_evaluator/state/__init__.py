"""State stores: what evaluator instances share (executions, query ids, rate slots, rosters, blobs).

`base` is the protocol every backend keeps; `memory` serves one process, `dynamodb` Lambda,
`redis` replicas in a cluster. Each backend's client library is imported by that backend alone.
"""
