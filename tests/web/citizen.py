"""Test support: a citizen's browser without script, over httpx: reads a page's text, links and
forms, and posts a form the way a browser does when one of its buttons is tapped."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

import httpx


@dataclass
class Form:
    action: str
    fields: dict[str, str] = field(default_factory=dict)  # hidden inputs
    buttons: list[tuple[str, str | None, str | None]] = field(default_factory=list)
    textareas: list[str] = field(default_factory=list)


@dataclass
class Page:
    """One response, as a browser shows it."""

    response: httpx.Response
    text: str = ""  # the visible text of <main>, whitespace collapsed
    title: str = ""
    forms: list[Form] = field(default_factory=list)
    links: dict[str, str] = field(default_factory=dict)  # link text -> href
    refresh: str | None = None  # <meta http-equiv="refresh"> content

    @property
    def status(self) -> int:
        return self.response.status_code

    def buttons(self) -> list[str]:
        return [label for form in self.forms for label, _, _ in form.buttons]


class _Reader(HTMLParser):
    def __init__(self, page: Page) -> None:
        super().__init__()
        self.page = page
        self.depth_main = 0
        self.in_title = False
        self.form: Form | None = None
        self.button: tuple[str | None, str | None] | None = None
        self.button_text: list[str] = []
        self.link: str | None = None
        self.link_text: list[str] = []
        self.main_text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "main":
            self.depth_main += 1
        elif tag == "title":
            self.in_title = True
        elif tag == "meta" and values.get("http-equiv") == "refresh":
            self.page.refresh = values.get("content")
        elif tag == "form":
            self.form = Form(values.get("action") or "")
            self.page.forms.append(self.form)
        elif tag == "input" and self.form is not None and values.get("type") == "hidden":
            self.form.fields[values["name"] or ""] = values.get("value") or ""
        elif tag == "textarea" and self.form is not None:
            self.form.textareas.append(values["name"] or "")
        elif tag == "button":
            self.button = (values.get("name"), values.get("value"))
            self.button_text = []
        elif tag == "a":
            self.link, self.link_text = values.get("href"), []

    def handle_endtag(self, tag: str) -> None:
        if tag == "main":
            self.depth_main -= 1
        elif tag == "title":
            self.in_title = False
        elif tag == "form":
            self.form = None
        elif tag == "button" and self.button is not None and self.form is not None:
            label = " ".join("".join(self.button_text).split())
            self.form.buttons.append((label, *self.button))
            self.button = None
        elif tag == "a" and self.link is not None:
            self.page.links[" ".join("".join(self.link_text).split())] = self.link
            self.link = None

    def handle_data(self, data: str) -> None:
        if self.in_title:
            self.page.title += data
        if self.button is not None:
            self.button_text.append(data)
        if self.link is not None:
            self.link_text.append(data)
        if self.depth_main:
            self.main_text.append(data)


def read(response: httpx.Response) -> Page:
    page = Page(response)
    reader = _Reader(page)
    reader.feed(response.text)
    page.text = " ".join(" ".join(reader.main_text).split())
    return page


class Citizen:
    """One phone's browser: its cookies, the page it shows, and taps on that page."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self.page: Page | None = None

    async def open(self, path: str) -> Page:
        self.page = read(await self.http.get(path))
        return self.page

    def _form_with(self, label: str) -> tuple[Form, str | None, str | None]:
        assert self.page is not None, "no page open"
        for form in self.page.forms:
            for shown, name, value in form.buttons:
                if shown == label:
                    return form, name, value
        raise AssertionError(f"no button {label!r} on the page: {self.page.buttons()}")

    async def tap(self, label: str, *, typed: str = "") -> Page:
        """Tap the button labelled `label` (after typing `typed` into the form's text area)."""
        form, name, value = self._form_with(label)
        data = dict(form.fields)
        for area in form.textareas:
            data[area] = typed
        if name is not None:
            data[name] = value or ""
        return await self.post(form.action, data)

    async def post(self, action: str, data: dict[str, str]) -> Page:
        self.page = read(await self.http.post(action, data=data))
        return self.page

    def form_fields(self, label: str) -> dict[str, str]:
        """What tapping `label` would post (to post it again, or to tamper with it)."""
        form, name, value = self._form_with(label)
        return {**form.fields, **({name: value or ""} if name is not None else {})}
