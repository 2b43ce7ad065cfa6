"""The /api/v3 HTTP API (litestar): writes append events, reads come from projections."""
