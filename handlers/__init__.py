"""Channel-agnostic conversations: the citizen survey flow and staff commands (no platform imports)."""
