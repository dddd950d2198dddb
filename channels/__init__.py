"""Channel adapters: translate platform updates to Inbound events and replies to platform calls."""
