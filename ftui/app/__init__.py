"""The Textual browser: version tree, details, loss plots, live training and compare.

This package is the only place that imports Textual. It reads versions through
`ftui.store` and starts runs through `ftui.train` (whose heavy stack is imported only
inside the training worker).
"""
