"""The workers: downloader, planner, renderer and webhooks, each a consumer of some events and a
producer of others, run by the service runtime in `adpipe.worker`."""
