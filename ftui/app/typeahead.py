"""Typeahead: keys typed before a screen is ready wait for it instead of getting lost.

A screen that sets `ready_for_keys = False` (the train form, until its fields exist and
the first one has focus) gets no keys: the app holds them here and hands them over, in
order, when the screen calls `app.release_typeahead()`. The screen applies them itself
(`type_ahead`), synchronously: posted again as key events they would race, because a
key's binding (Down: next field) runs only once the key has bubbled back up to the app,
by which time the keys after it have already been delivered to the old focus.

Both ways a key reaches the app are held: fresh from the terminal, and bubbling back up
from the previous screen's widgets, which Textual delivers a burst of keys to before the
binding that pushed the new screen has run.
"""

from __future__ import annotations

from textual import events
from textual.screen import Screen


class Typeahead:
    """The keys held for a screen that is not ready yet."""

    def __init__(self) -> None:
        self.held: list[events.Key] = []

    @staticmethod
    def waiting(screen: Screen[object]) -> bool:
        return not getattr(screen, "ready_for_keys", True)

    def hold(self, screen: Screen[object], event: events.Event) -> bool:
        """Keep `event` if it is a key for a screen that is not ready; True if kept."""
        if isinstance(event, events.Key) and self.waiting(screen):
            self.held.append(events.Key(event.key, event.character))
            return True
        return False

    def release(self) -> list[events.Key]:
        """The held keys, oldest first."""
        held, self.held = self.held, []
        return held
