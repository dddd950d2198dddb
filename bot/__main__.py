"""`python -m bot` is the `sipas` command."""

from bot.cli import main

main()
