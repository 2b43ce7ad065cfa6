"""The event catalogue: one typed msgspec Struct per event, the envelope, the codec.

`schema/` holds the JSON Schema and AsyncAPI contract generated from these types for outside
subscribers (`adpipe events schema`).
"""
