"""Screens: the browser, compare, training form, run view, and small modal dialogs."""
