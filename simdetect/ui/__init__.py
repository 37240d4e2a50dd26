"""`simdetect ui`: a local web workbench over the HTTP service, for artists and legal teams.

The page is plain HTML, CSS and a little JavaScript served by the app itself (no CDN,
no build step); the work is done by the same `ServeEngine` that answers `/v1/*`.
"""
