"""Pure aggregates: decide(state, command) -> events and evolve(state, event) -> state, no IO."""
