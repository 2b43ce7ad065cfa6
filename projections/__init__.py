"""Read models: each projection's tables and the fold that keeps them current from the event log."""
