"""Gates besides `POST /v1/evaluate`: Honeycomb SLOs (`slo`) and Flagger webhooks (`flagger`).

The modules here are pure: they parse what the caller sent, shape what Honeycomb answered and
decide; the routes in app.py do the I/O.
"""
