"""The privacy notice (Law 91/2025/QH15, NĐ 356/2025): a short text, the full text, and its version.

The wording lives in the message catalogues (`privacy_notice_*` keys), so every channel
renders the same notice; this fills in the deployment's facts (controller, province,
contact, retention) and says which version a respondent agreed to:

    notice = PrivacyNotice(controller="Sở Nội vụ", province="thành phố Hà Nội", ...)
    notice.short("vi"), notice.full("vi", "web"), notice.version

How a right is used depends on where the survey is taken (`PLACES`): by typed commands in a
chat, by the page's buttons in a browser, not at all on a shared kiosk, which keeps nothing to
recognise anyone by. The notice says it the way the respondent can do it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property

from handlers.catalog import LANGUAGES, Catalog, load_catalog
from handlers.events import Surface

__all__ = ["CHAT", "NOTICE_VERSION_LENGTH", "PLACES", "PrivacyNotice", "place_of"]

CHAT, WEB, KIOSK = "chat", "web", "kiosk"
PLACES = (CHAT, WEB, KIOSK)  # where a survey is taken, as far as the notice is concerned

# Hex digits of the notice's SHA-256 kept as its version: enough to tell versions apart.
NOTICE_VERSION_LENGTH = 16
_BLANK_LINES = re.compile(r"\n{3,}")


@dataclass(frozen=True)
class PrivacyNotice:
    """The notice of one deployment, in every catalogue language.

    `sensitive` are the labels (per language) of the sensitive items the survey asks, which
    the notice must name as such.
    """

    controller: str
    province: str | None = None
    contact: str | None = None
    retention_months: int = 24
    resume_window_hours: int = 48
    # Days the chat address of a respondent who agreed to the result follow-up is kept at
    # most; 0: the follow-up is not offered, and the notice does not mention it.
    result_follow_up_days: int = 0
    sensitive: Sequence[Mapping[str, str]] = ()
    catalog: Catalog = field(default_factory=load_catalog, compare=False, repr=False)

    @property
    def controller_name(self) -> str:
        """The controller named with its province, e.g. "Sở Nội vụ thành phố Hà Nội"."""
        return f"{self.controller} {self.province}" if self.province else self.controller

    def short(self, language: str, place: str = CHAT) -> str:
        """A few lines to read on a phone without scrolling; the full text is one tap away."""
        return self.catalog.text(
            language,
            "privacy_notice_short",
            controller=self.controller_name,
            contact=self._contact(language),
            retention_months=self.retention_months,
            sensitive=self._sensitive(language, "privacy_notice_short_sensitive"),
            deletion=self._how(language, "deletion", place),
        )

    def full(self, language: str, place: str = CHAT) -> str:
        """Everything the law asks a notice to say, and how to use each right where the survey
        is taken (a chat also has the messaging platform's part)."""
        text = self.catalog.text(
            language,
            "privacy_notice_full",
            controller=self.controller_name,
            contact=self._contact(language),
            retention_months=self.retention_months,
            resume_hours=self.resume_window_hours,
            result_follow_up=(
                self.catalog.text(
                    language, "privacy_notice_result_follow_up", days=self.result_follow_up_days
                )
                if self.result_follow_up_days
                else ""
            ),
            sensitive=self._sensitive(language, "privacy_notice_full_sensitive"),
            pseudonym=self._how(language, "pseudonym", place),
            stopping=self._how(language, "stopping", place),
            erasure=self._how(language, "erasure", place),
            chat_platform=(
                "\n\n" + self.catalog.text(language, "privacy_notice_chat_platform")
                if place == CHAT
                else ""
            ),
        )
        return _BLANK_LINES.sub("\n\n", text).strip()

    def button(self, language: str) -> str:
        """The label of the control that shows the full text."""
        return self.catalog.text(language, "privacy_notice_button")

    @cached_property
    def version(self) -> str:
        """A hash of the notice's every text in every language and place: what a consent
        refers to."""
        texts = {
            language: [
                text
                for place in PLACES
                for text in (self.short(language, place), self.full(language, place))
            ]
            for language in LANGUAGES
        }
        digest = hashlib.sha256(json.dumps(texts, ensure_ascii=False, sort_keys=True).encode())
        return digest.hexdigest()[:NOTICE_VERSION_LENGTH]

    def _how(self, language: str, right: str, place: str) -> str:
        """How `right` is used at `place`, in `language`."""
        if place not in PLACES:
            raise ValueError(f"no privacy notice for {place!r} (places: {', '.join(PLACES)})")
        return self.catalog.text(
            language, f"privacy_notice_{right}.{place}", resume_hours=self.resume_window_hours
        )

    def _contact(self, language: str) -> str:
        return self.contact or self.catalog.text(language, "privacy_notice_contact_unset")

    def _sensitive(self, language: str, key: str) -> str:
        """The sentence naming the sensitive items asked, on a line of its own; "" if none."""
        if not self.sensitive:
            return ""
        labels = ", ".join(
            labels.get(language) or next(iter(labels.values())) for labels in self.sensitive
        )
        return "\n" + self.catalog.text(language, key, items=labels.lower())


def place_of(surface: Surface) -> str:
    """Where a survey on `surface` is taken, as the notice tells how to use a right there."""
    if surface.commands:
        return CHAT
    return WEB if surface.withdraw else KIOSK
