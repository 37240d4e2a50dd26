"""The HTTP service (`simdetect serve`): scans and evidence reports over FastAPI + uvicorn.

`engine` holds the loaded index and model and the queue in front of the model,
`batching` the micro-batcher, `app` the routes, `auth` and `limits` the checks every
request passes, `uploads` and `reports` what happens to uploaded images.
"""
