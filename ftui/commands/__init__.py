"""Small subcommands of `ftui` (du, prune, alias, path, export), one module each."""
