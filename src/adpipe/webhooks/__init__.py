"""Webhook subscriptions as a resource: managing them for the API (their rules are the aggregate
`adpipe.domain.webhook`), signing secrets, the outbox table and which event types a pattern matches.

The delivery side — routing the log into the outbox and sending it — is the webhooks service
(`adpipe.services.webhooks`), which the API never imports.
"""
