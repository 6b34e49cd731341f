"""Who is calling: the caller registry, where it comes from, and the checks on each request.

`registry` looks callers up by credential, `sources` loads the registry (file or secret),
`auth` turns a request into a `Caller` (401) and checks what it may query (403).
"""
