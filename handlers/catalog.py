"""Message catalogues of the citizen conversation, one YAML file per language."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml

MESSAGES = Path(__file__).parent / "messages"
LANGUAGES = ("vi", "en")


class Catalog:
    """Looks up a message by key in a language, falling back to Vietnamese."""

    def __init__(self, messages: dict[str, dict[str, str]]) -> None:
        missing = sorted(set(messages["vi"]) - set(messages.get("en", {})))
        if missing:
            raise ValueError(f"messages/en.yaml lacks keys: {', '.join(missing)}")
        self._messages = messages

    def section(self, language: str, prefix: str) -> dict[str, str]:
        """Every message whose key starts with `prefix`, keyed without it (Vietnamese fills gaps)."""
        table = {**self._messages["vi"], **self._messages.get(language, {})}
        return {
            key.removeprefix(prefix): value
            for key, value in table.items()
            if key.startswith(prefix)
        }

    def text(self, language: str, key: str, **values: object) -> str:
        table = self._messages.get(language) or self._messages["vi"]
        template = table.get(key) or self._messages["vi"][key]
        return template.format(**values) if values else template


@cache
def load_catalog() -> Catalog:
    """The bundled catalogue (read once per process)."""
    messages: dict[str, dict[str, str]] = {}
    for language in LANGUAGES:
        with (MESSAGES / f"{language}.yaml").open(encoding="utf-8") as handle:
            messages[language] = {str(k): str(v) for k, v in yaml.safe_load(handle).items()}
    return Catalog(messages)
