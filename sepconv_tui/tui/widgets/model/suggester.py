"""Completion of model names in the Model tab's source field."""

from __future__ import annotations

from textual.suggester import Suggester


class ModelNameSuggester(Suggester):
    """Completes torchvision and timm model names (the list arrives from the model process)."""

    def __init__(self) -> None:
        # No cache: the names arrive after the first keys, which must not stay "no suggestion".
        super().__init__(use_cache=False, case_sensitive=False)
        self.names: list[str] = []

    async def get_suggestion(self, value: str) -> str | None:
        """The first known name starting with ``value`` (casefolded by Textual)."""
        return self.suggest(value)

    def suggest(self, value: str) -> str | None:
        """The first known name starting with ``value``, whatever its case."""
        folded = value.casefold()
        if not folded:
            return None
        return next((name for name in self.names if name.casefold().startswith(folded)), None)
