"""HTML rendering: the Jinja2 environment, the reader's preferences and the helpers templates call."""

from __future__ import annotations

import calendar
import hashlib
from dataclasses import dataclass, replace
from datetime import datetime
from importlib import resources
from urllib.parse import parse_qsl, quote, urlencode

import jinja2
import nh3
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse

from .format import Style, iso
from .i18n import DIRECTIONS, LANGUAGES, plural, translate
from .settings import WebSettings

PREFS_COOKIE = "marsad_prefs"
THEMES = ("auto", "light", "dark")
DIGITS = ("latn", "arab")
SIZES = ("m", "l", "xl")


@dataclass(frozen=True)
class Prefs:
    """What a reader chose on the settings form (kept in a cookie; no account needed)."""

    lang: str = "ar"
    digits: str = "latn"
    theme: str = "auto"
    hijri: bool = True
    size: str = "m"

    @classmethod
    def parse(cls, raw: str | None) -> "Prefs":
        """Preferences from the cookie's text; anything unknown keeps its default."""
        if not raw:
            return cls()
        values = dict(parse_qsl(raw[:200]))
        prefs = cls()
        if values.get("lang") in LANGUAGES:
            prefs = replace(prefs, lang=values["lang"])
        if values.get("digits") in DIGITS:
            prefs = replace(prefs, digits=values["digits"])
        if values.get("theme") in THEMES:
            prefs = replace(prefs, theme=values["theme"])
        if values.get("hijri") in ("0", "1"):
            prefs = replace(prefs, hijri=values["hijri"] == "1")
        if values.get("size") in SIZES:
            prefs = replace(prefs, size=values["size"])
        return prefs

    def dump(self) -> str:
        """The cookie's text."""
        return urlencode({"lang": self.lang, "digits": self.digits, "theme": self.theme,
                          "hijri": "1" if self.hijri else "0", "size": self.size})


def prefs_of(request: Request) -> Prefs:
    """The requesting reader's preferences."""
    return Prefs.parse(request.cookies.get(PREFS_COOKIE))


# Only <mark> survives in snippets and highlighted titles; marsad.search escapes everything
# else already, and nh3 (ammonia) makes sure of it.
_MARK_ONLY = {"mark"}


def safe_marked(html: str) -> str:
    """Search-engine HTML with nothing but <mark> left (sanitised with nh3)."""
    return nh3.clean(html, tags=_MARK_ONLY, attributes={}, strip_comments=True)


class UI:
    """The helpers a template calls, bound to one reader's preferences."""

    def __init__(self, prefs: Prefs, settings: WebSettings, request: Request):
        self.prefs = prefs
        self.lang = prefs.lang
        self.dir = DIRECTIONS[prefs.lang]
        self.style = Style(prefs.lang, prefs.digits, prefs.hijri, settings.timezone)
        self.request = request
        self.path = request.url.path
        self.query = request.url.query

    def t(self, key: str, **values) -> str:
        """A string in the reader's language."""
        return translate(self.lang, key, **values)

    def n(self, key: str, count: int) -> str:
        """A counted phrase ("٣ مقالات") in the reader's language and digits."""
        return plural(self.lang, key, count, self.style.number(count))

    def num(self, value) -> str:
        """A number in the reader's digits."""
        return self.style.number(value) if isinstance(value, (int, float)) else self.style.digits_of(str(value))

    def date(self, value: datetime | None, precision: str | None = None) -> str:
        """A full publication date."""
        return self.style.date(value, precision=precision)

    def short_date(self, value: datetime | None) -> str:
        """Day and month."""
        return self.style.short_date(value)

    def hijri(self, value: datetime | None) -> str:
        """The Hijri date, when the reader wants it."""
        return self.style.hijri_date(value) if self.prefs.hijri else ""

    def month(self, key: str) -> str:
        """A facet month."""
        return self.style.month(key)

    @staticmethod
    def iso(value: datetime | None) -> str:
        """ISO 8601 for <time datetime>."""
        return iso(value) or ""

    @property
    def here(self) -> str:
        """This page's path and query (for "back to where I was" links)."""
        return self.path + (f"?{self.query}" if self.query else "")


def article_url(article_id: str) -> str:
    """An article's page."""
    return f"/articles/{quote(article_id, safe='')}"


def story_url(story_id: str) -> str:
    """A story's page."""
    return f"/stories/{quote(str(story_id), safe='')}"


def source_url(name: str | None) -> str:
    """An outlet's page."""
    return f"/sources/{quote(name or '', safe='')}"


def tag_url(tag: str) -> str:
    """A tag's page."""
    return f"/tags/{quote(tag, safe='')}"


def entity_url(entity_id: int) -> str:
    """A named entity's page."""
    return f"/entities/{int(entity_id)}"


def search_url(**params) -> str:
    """A search page with these parameters (defaults left out)."""
    kept = {k: v for k, v in params.items()
            if k == "q" or (v not in (None, "", "relevance") and not (k == "page" and v == 1))}
    return "/search?" + urlencode(kept)


def month_end(month: str) -> str:
    """The last day of a "YYYY-MM" month, as two digits."""
    try:
        year, number = (int(x) for x in month.split("-")[:2])
        return f"{calendar.monthrange(year, number)[1]:02d}"
    except (ValueError, IndexError, calendar.IllegalMonthError):
        return "28"


def _static_version() -> str:
    """A short hash of the stylesheet and script, so browsers fetch them again after a change."""
    folder = resources.files("marsad.web").joinpath("static")
    digest = hashlib.sha1()
    for name in ("marsad.css", "marsad.js"):
        digest.update(folder.joinpath(name).read_bytes())
    return digest.hexdigest()[:10]


class Renderer:
    """The Jinja2 environment (autoescaping on) and `render()`."""

    def __init__(self, settings: WebSettings):
        self.settings = settings
        self.env = jinja2.Environment(
            loader=jinja2.PackageLoader("marsad.web", "templates"),
            autoescape=True, auto_reload=False, trim_blocks=True, lstrip_blocks=True,
            undefined=jinja2.StrictUndefined,
        )
        self.env.globals.update(article_url=article_url, story_url=story_url, source_url=source_url,
                                tag_url=tag_url, search_url=search_url, month_end=month_end, entity_url=entity_url,
                                static_version=_static_version(),
                                admin_enabled=bool(settings.admin_token))
        self.env.filters["marked"] = lambda html: Markup(safe_marked(html))

    def render(self, request: Request, template: str, *, status: int = 200, headers: dict | None = None,
               **context) -> HTMLResponse:
        """Render *template* for this request's reader."""
        ui = UI(prefs_of(request), self.settings, request)
        html = self.env.get_template(template).render(ui=ui, **context)
        return HTMLResponse(html, status_code=status, headers=headers)
