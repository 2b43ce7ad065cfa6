"""The webhooks service: routes every event to its owner's subscriptions (dispatcher, outbox) and
delivers them signed per Standard Webhooks, in order per job, with retries (sender).

Run it with `run_webhooks(core, stop)` (or `adpipe service webhooks`); the API manages
subscriptions through `adpipe.webhooks.manage.Webhooks`, in the core.
"""
