"""Webhook subscriptions as a resource: their events and state, the rules for managing them (used
by the API), signing secrets, the outbox table and which event types a pattern matches.

The delivery side — routing the log into the outbox and sending it — is the webhooks service
(`adpipe.services.webhooks`), which the API never imports.
"""
