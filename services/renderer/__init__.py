"""The renderer service."""
