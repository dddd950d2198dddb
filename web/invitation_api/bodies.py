"""The invitation API's request and response bodies."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from storage.invitations import DOSSIER_REF_MAX_LENGTH, Stage, dossier_reference
from storage.volumes import MAX_DOSSIERS

__all__ = [
    "MAX_TTL_HOURS",
    "InvitationOut",
    "InvitationRequest",
    "InvitationStatus",
    "ResultReturned",
    "ResultReturnedRequest",
    "VolumeEntry",
    "VolumesRecorded",
    "VolumesRequest",
]

MAX_TTL_HOURS = 24 * 365
MAX_VOLUME_ENTRIES = 1000  # a month of a large centre's counters and authorities: ~100 KB
SubmittedVia = Literal["direct", "online", "post"]  # storage.procedures.SUBMITTED_VIA
ServicePointCode = Annotated[
    str,
    Field(
        min_length=1,
        max_length=32,
        pattern=r"^[A-Z0-9-]+$",
        description="The service point (counter) code, as listed by `sipas units points`.",
        examples=["HN-00004-01"],
    ),
]


class InvitationRequest(BaseModel):
    """What to invite: a counter, and optionally the dossier whose transaction it was."""

    model_config = ConfigDict(extra="forbid")

    service_point: ServicePointCode
    dossier_ref: str | None = Field(
        None,
        min_length=1,
        max_length=DOSSIER_REF_MAX_LENGTH + 20,  # surrounding spaces are dropped
        description=f"The dossier (hồ sơ) reference: 1 to {DOSSIER_REF_MAX_LENGTH} letters, "
        "digits and `. - _ / :` (no spaces inside; spaces around it are dropped). Stored "
        "only as a keyed hash. The same dossier again returns the same open invitation; "
        "an answered dossier gets 409. Another system's invitations of the same reference "
        "at counters outside your key's scope are neither seen nor in the way.",
        examples=["000.00.01.H26-250101-0001"],
    )
    ttl_hours: int | None = Field(
        None,
        strict=True,  # 12, not "12" nor true
        ge=1,
        le=MAX_TTL_HOURS,
        description="Hours until the invitation expires, a whole number from 1 to "
        f"{MAX_TTL_HOURS} (default: the deployment's setting).",
    )
    stage: Stage = Field(
        Stage.RECEPTION,
        description="The dossier's moment: `reception` (default; at the counter, the survey "
        "asks whether the result was received) or `result` (when the result is returned: "
        "the whole survey, the result questions included, without that question).",
    )

    procedure_code: str | None = Field(
        None,
        min_length=1,
        max_length=32,
        description="The procedure (mã TTHC) of the dossier, e.g. `1.001193`. When a procedure "
        "catalogue is loaded (`sipas procedures list`), a code outside it is refused (422).",
        examples=["1.001193"],
    )
    authority: str | None = Field(
        None,
        min_length=1,
        max_length=32,
        description="The competent authority (cơ quan có thẩm quyền giải quyết) the rating "
        "belongs to: the code of a loaded agency (a Sở) or unit (a UBND xã/phường). Default: "
        "the procedure's default authority in the catalogue, else the counter's agency (its "
        "unit for a counter without one). An unknown code is refused (422).",
        examples=["HN-STP"],
    )
    submitted_via: SubmittedVia = Field(
        "direct",
        description="How the dossier was submitted: `direct` (default; at the counter), "
        "`online` (public service portal) or `post`.",
    )

    @field_validator("dossier_ref")
    @classmethod
    def _dossier_reference(cls, value: str | None) -> str | None:
        return None if value is None else dossier_reference(value)


InvitationStatus = Literal["open", "claimed", "completed", "expired"]


class InvitationOut(BaseModel):
    """An invitation: how a citizen opens it, and where it stands."""

    id: str = Field(examples=["3f9c2a7d1b4e8f60"])
    service_point: str
    status: InvitationStatus = Field(
        description="open: not yet used; claimed: a respondent started it; completed: "
        "answered; expired: past `expires_at` unanswered"
    )
    payload: str | None = Field(description="The Telegram start payload (null: not recoverable)")
    short_code: str | None = Field(description="What to send on Zalo instead of scanning")
    telegram_link: str | None = Field(description="The Telegram deep link")
    landing_url: str | None = Field(
        description="The landing page (answer in the browser, on Zalo or on Telegram) the QR "
        "code carries when the service has a public URL; null without one (the QR code then "
        "carries `telegram_link`)"
    )
    qr_png_url: str
    qr_svg_url: str
    has_dossier: bool
    stage: Stage = Field(description="The dossier's moment the invitation was minted at")
    procedure_code: str | None = Field(description="The procedure (mã TTHC), if given")
    authority: str | None = Field(description="The competent authority its rating belongs to")
    submitted_via: SubmittedVia
    created_at: datetime
    expires_at: datetime
    claimed_at: datetime | None
    completed_at: datetime | None


class ResultReturnedRequest(BaseModel):
    """The dossier whose result was returned."""

    model_config = ConfigDict(extra="forbid")

    dossier_ref: str = Field(
        min_length=1,
        max_length=DOSSIER_REF_MAX_LENGTH + 20,  # surrounding spaces are dropped
        description="The dossier (hồ sơ) reference the invitation was minted with.",
        examples=["000.00.01.H26-250101-0001"],
    )

    @field_validator("dossier_ref")
    @classmethod
    def _dossier_reference(cls, value: str) -> str:
        return dossier_reference(value)


class ResultReturned(BaseModel):
    """The notice that a dossier's result was returned, taken."""

    invitation_id: str = Field(
        description="The dossier's invitation (the answered one, if it was answered)"
    )
    status: InvitationStatus
    result_returned_at: datetime = Field(description="When this notice was taken")


class VolumeEntry(BaseModel):
    """The dossiers one counter received on one day for one competent authority."""

    model_config = ConfigDict(extra="forbid")

    service_point: ServicePointCode
    day: date = Field(description="The day the dossiers were received (local date).")
    authority: str | None = Field(
        None,
        min_length=1,
        max_length=32,
        description="The competent authority the dossiers are for: the code of a loaded agency "
        "or unit. Default: the counter's agency (its unit for a counter without one), as for "
        "an invitation.",
        examples=["HN-STP"],
    )
    dossiers: int = Field(
        strict=True,
        ge=0,
        le=MAX_DOSSIERS,
        description="How many dossiers (hồ sơ) were received: a whole number from 0.",
    )


class VolumesRequest(BaseModel):
    """Dossier volumes to record, all or nothing."""

    model_config = ConfigDict(extra="forbid")

    volumes: list[VolumeEntry] = Field(
        min_length=1,
        max_length=MAX_VOLUME_ENTRIES,
        description=f"1 to {MAX_VOLUME_ENTRIES} entries, at most one per counter, day and "
        "authority. A figure sent again for the same counter, day and authority replaces "
        "the earlier one.",
    )


class VolumesRecorded(BaseModel):
    """What a report of volumes did."""

    added: int = Field(description="Entries for a counter, day and authority not reported before")
    updated: int = Field(description="Entries that replaced an earlier, different figure")
    unchanged: int = Field(description="Entries that repeated the figure already recorded")
