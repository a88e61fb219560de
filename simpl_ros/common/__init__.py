"""What every node shares: message conversions and topic names, the node entry point, readiness checks, episodes."""
