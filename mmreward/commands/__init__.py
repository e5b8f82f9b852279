"""One module per `mmreward` command: a `COMMAND` (config dataclasses + run function, see
`parsing.py`) or a `SUBCOMMANDS` table; `mmreward/cli.py` dispatches to them."""
