"""`python -m cli` is the `nil` command."""

from cli import main

main()
