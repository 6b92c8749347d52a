"""The command palette offers every action of the screen it was opened from.

It lists the same bindings the footer and the help screen show (one source of truth),
so anything reachable by a key is also reachable by name.
"""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.dom import DOMNode

from .screens.help import key_label

HIDDEN_ACTIONS = frozenset({"command_palette"})


class ActionsProvider(Provider):
    """One command per active binding (deduplicated by action)."""

    def _commands(self) -> list[tuple[str, str, str, DOMNode]]:
        seen: set[str] = set()
        commands = []
        for key, active in self.screen.active_bindings.items():
            binding = active.binding
            if not binding.description or binding.action in seen or not active.enabled:
                continue
            if binding.action in HIDDEN_ACTIONS:
                continue
            seen.add(binding.action)
            commands.append((binding.description, key_label(key), binding.action, active.node))
        return commands

    async def discover(self) -> Hits:
        for description, key, action, node in self._commands():
            yield DiscoveryHit(description, partial(self._run, action, node), help=f"key: {key}")

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for description, key, action, node in self._commands():
            score = matcher.match(description)
            if score > 0:
                yield Hit(
                    score,
                    matcher.highlight(description),
                    partial(self._run, action, node),
                    help=f"key: {key}",
                )

    async def _run(self, action: str, node: DOMNode) -> None:
        await self.app.run_action(action, node)
