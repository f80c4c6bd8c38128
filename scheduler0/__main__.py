"""`python -m scheduler0 ...` is the `scheduler0` command."""

from scheduler0.cli import main

main()
