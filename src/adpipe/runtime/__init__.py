"""Running adpipe: the embedded Postgres and nats-server, and the supervisor behind `adpipe up`."""
