"""Live sessions: the replay's pipeline on a live market, in the spec's operating modes (§11)."""
