"""Subcommands of `sipas`, one module per group; bot.cli registers them."""
