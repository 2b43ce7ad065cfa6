"""The voice service: narrates each scene's script while the storyboard is reviewed (and after
approval, when a narration is still on its way), recording `job.narration_synthesized` or the
failure. `engine/` turns text into timed speech and knows nothing of NATS or Postgres."""
