"""Runs as processes: detached launch, control from any shell (cancel, resume), the queue.

No Textual and no Hugging Face import here: these modules start, find and signal the
processes that train (`ftui train`), which import the heavy libraries themselves.
"""
