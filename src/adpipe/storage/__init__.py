"""Postgres storage: migrations, the event store, the chunked blob store, live subscriptions."""
