"""`python -m bot` is the same as the `socialbot` command."""

from bot.cli import main

main()
