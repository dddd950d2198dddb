"""Fakes of the platforms we cannot reach from tests, speaking their documented wire formats."""
