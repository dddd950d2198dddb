"""HTTP surface: webhook routes, the invitation API and the staff dashboard."""
