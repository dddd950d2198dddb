"""The privacy notice (Law 91/2025/QH15, NĐ 356/2025): a short text, the full text, and its version.

The wording lives in the message catalogues (`privacy_notice_*` keys), so every channel
renders the same notice; this fills in the deployment's facts (controller, province,
contact, retention) and says which version a respondent agreed to:

    notice = PrivacyNotice(controller="Sở Nội vụ", province="thành phố Hà Nội", ...)
    notice.short("vi"), notice.full("vi"), notice.version
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property

from handlers.catalog import LANGUAGES, Catalog, load_catalog

__all__ = ["NOTICE_VERSION_LENGTH", "PrivacyNotice"]

# Hex digits of the notice's SHA-256 kept as its version: enough to tell versions apart.
NOTICE_VERSION_LENGTH = 16
_BLANK_LINES = re.compile(r"\n{3,}")


@dataclass(frozen=True)
class PrivacyNotice:
    """The notice of one deployment, in every catalogue language.

    `sensitive` are the labels (per language) of the sensitive items the survey asks, which
    the notice must name as such. `chat`: the survey runs on a messaging platform, whose
    own keeping of the messages the notice then explains.
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
    chat: bool = True
    catalog: Catalog = field(default_factory=load_catalog, compare=False, repr=False)

    @property
    def controller_name(self) -> str:
        """The controller named with its province, e.g. "Sở Nội vụ thành phố Hà Nội"."""
        return f"{self.controller} {self.province}" if self.province else self.controller

    def short(self, language: str) -> str:
        """A few lines to read on a phone without scrolling; the full text is one tap away."""
        return self.catalog.text(
            language,
            "privacy_notice_short",
            controller=self.controller_name,
            contact=self._contact(language),
            retention_months=self.retention_months,
            sensitive=self._sensitive(language, "privacy_notice_short_sensitive"),
        )

    def full(self, language: str) -> str:
        """Everything the law asks a notice to say, and how to use each right."""
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
            chat_platform=(
                "\n\n" + self.catalog.text(language, "privacy_notice_chat_platform")
                if self.chat
                else ""
            ),
        )
        return _BLANK_LINES.sub("\n\n", text).strip()

    def button(self, language: str) -> str:
        """The label of the control that shows the full text."""
        return self.catalog.text(language, "privacy_notice_button")

    @cached_property
    def version(self) -> str:
        """A hash of the notice's every text in every language: what a consent refers to."""
        texts = {language: [self.short(language), self.full(language)] for language in LANGUAGES}
        digest = hashlib.sha256(json.dumps(texts, ensure_ascii=False, sort_keys=True).encode())
        return digest.hexdigest()[:NOTICE_VERSION_LENGTH]

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
