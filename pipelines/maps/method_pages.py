"""A site's reading pages under the maps folder (``maps/<site>/``): what the index and
the portfolio page link to, so that a ``maps/`` folder copied alone (a USB key in a
meeting room without network) still opens every page a committee reads.

- ``methode.html``: the site's method note as published (``published/method_note.html``),
  copied; a French page saying why when the site has none;
- ``indicateurs.html``: the indicators' note (``published/indicators_method.md``) as a
  readable French HTML page, every text escaped (:func:`markdown_html`);
- the charts' PNG (``charts/<name>.png``), copied under their French names
  (:data:`pipelines.stages.CHART_FILES_FR`: ``signalements_par_categorie.png``…).

Written by the map stage (:data:`pipelines.stages.STAGES`), which lists these files.

:func:`markdown_html` is ours rather than a Markdown library's on purpose: it reads
only the pipeline's own note (four constructs, no link, no raw HTML), and escaping
every text before adding its few tags is simpler to check than configuring a general
converter to refuse raw HTML; none is among the project's dependencies.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from markupsafe import Markup

from pipelines.io import write_text
from pipelines.markup import escape_text, render_template, template_text
from pipelines.published import FILES, INDICATOR_FILES
from pipelines.stages import CHART_FILES_FR, CHART_NAMES

#: The site's method note and indicators' note, in the site's folder under ``maps/``.
METHOD_PAGE, INDICATORS_PAGE = "methode.html", "indicateurs.html"

_BOLD = re.compile(r"\*\*(.+?)\*\*")
_CODE = re.compile(r"`([^`]+)`")


def _inline(text: str) -> str:
    """One line of the note as HTML: escaped first, then ``**bold**`` and ```code```."""
    out = _BOLD.sub(r"<strong>\1</strong>", escape_text(text))
    return _CODE.sub(r"<code>\1</code>", out)


def markdown_html(text: str) -> tuple[str, str]:
    """The title (``# …``, plain text) and the body (HTML) of a note in the plain
    Markdown the pipeline writes: ``##`` headings, paragraphs, ``-`` lists (continued
    by indented lines), ``**bold**`` and ```code```. Every text is escaped
    (:func:`pipelines.markup.escape_text`) before the few tags are added."""
    title, blocks = "", list[tuple[str, str]]()
    kind, lines = "", list[str]()  # the block being read: "p" or "li", and its lines

    def flush() -> None:
        if lines:
            blocks.append((kind, " ".join(line.strip() for line in lines)))
        lines.clear()

    for raw in text.splitlines():
        line = raw.rstrip()
        if not line.strip():
            flush()
        elif line.startswith("# ") and not title:
            flush()
            title = line[2:].strip()
        elif line.startswith("#"):
            flush()
            blocks.append(("h2", line.lstrip("#").strip()))
        elif line.startswith(("- ", "* ")):
            flush()
            kind = "li"
            lines.append(line[2:])
        elif lines and kind == "li" and raw.startswith(" "):
            lines.append(line)
        else:
            if lines and kind != "p":
                flush()
            kind = "p"
            lines.append(line)
    flush()
    html, in_list = list[str](), False
    for tag, content in blocks:
        if (tag == "li") != in_list:
            html.append("<ul>" if tag == "li" else "</ul>")
            in_list = tag == "li"
        html.append(f"<{tag}>{_inline(content)}</{tag}>")
    if in_list:
        html.append("</ul>")
    return title, "\n".join(html)


def note_page(title: str, body: str, *, simulated: bool) -> str:
    """A self-contained French page (no script, no external resource): ``title`` (plain
    text, escaped) and ``body`` (HTML built by :func:`markdown_html`)."""
    return str(
        render_template(
            "method_note.html",  # the hotspot note's page, with a body of HTML
            title=title,
            body=Markup(body),  # built from escaped text only
            css=Markup(template_text("method_note.css")),
            simulated=simulated,
            sections=[],
        )
    )


def write_method_pages(published: Path, charts: Path, dst_dir: Path, *, simulated: bool) -> None:
    """Write ``dst_dir`` (``maps/<site>/``): the method note, the indicators' note and
    the charts of the site whose published tables are in ``published`` and charts in
    ``charts``."""
    dst_dir.mkdir(parents=True, exist_ok=True)
    note = published / FILES["method_note"]
    if note.exists():
        shutil.copyfile(note, dst_dir / METHOD_PAGE)
    else:
        text = "Le site n'a pas encore de note de méthode publiée (points chauds)."
        write_text(note_page("Note de méthode", f"<p>{text}</p>", simulated=simulated),
                   dst_dir / METHOD_PAGE)  # fmt: skip
    indicators = published / INDICATOR_FILES["note"]
    if indicators.exists():
        title, body = markdown_html(indicators.read_text(encoding="utf-8"))
    else:
        title, body = "Indicateurs : méthode", "<p>Pas d'indicateurs publiés pour ce site.</p>"
    write_text(note_page(title, body, simulated=simulated), dst_dir / INDICATORS_PAGE)
    for name in CHART_NAMES:
        png = charts / f"{name}.png"
        if png.exists():
            shutil.copyfile(png, dst_dir / f"{CHART_FILES_FR[name]}.png")
        # the copy under its former English name (until session 23), linked no more: a
        # maps folder copied for a committee would carry both
        (dst_dir / f"{name}.png").unlink(missing_ok=True)
