"""Widgets of the browser: each shows what it is given and posts messages up."""
