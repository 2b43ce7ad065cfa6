"""The /api/v3 HTTP API (litestar): writes append events, reads come from projections.

`app.create_app(core)` builds the application and `server.serve_api(settings, stop)` serves it;
one module per resource (clients, campaigns, assets, jobs, actions, scenes), errors become
problem+json in `errors`, and `keys` manages the API keys every /api/v3 route requires.
"""
