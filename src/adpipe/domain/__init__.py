"""Pure aggregates: decide(state, command) -> events and evolve(state, event) -> state, no IO.

One module per resource — `job` (with `narration`, `storyboard`), `client`, `campaign`, `asset`,
`webhook` — holding every rule of it; `guards` names what a rule spanning resources depends on.
"""
