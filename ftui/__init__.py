"""ftui: version, train and compare LoRA fine-tuning runs from the terminal."""

__version__ = "0.1.0"
