"""The replay tool behind `adpipe replay`: job timelines, state at any point, integrity checks,
read-model rebuilds and JSONL export — everything straight from the event log."""
