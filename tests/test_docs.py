"""The README stays short and every relative link in the Markdown pages leads somewhere.

The README is the front page (under 250 lines); the long sections and the tables live in
``docs/``. A link to a file must name an existing file, and a link to a heading
(``page.md#heading``, ``#heading``) must name a heading of that page, with GitHub's anchors.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
PAGES = [README, *DOCS, ROOT / "notebooks" / "README.md", ROOT / "data" / "README.md"]
MAX_README_LINES = 250

_FENCE = re.compile(r"^(```|~~~).*?^\1", re.M | re.S)
_CODE_SPAN = re.compile(r"(`+).+?\1", re.S)
_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_HEADING = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t#]*$", re.M)


def _prose(text: str) -> str:
    """The text without fenced code blocks and code spans (links there are not links)."""
    return _CODE_SPAN.sub("", _FENCE.sub("", text))


def links(text: str) -> list[str]:
    """Every link target of a Markdown text, outside code."""
    return _LINK.findall(_prose(text))


def anchors(text: str) -> set[str]:
    """The anchors GitHub gives the headings of a Markdown text."""
    seen: dict[str, int] = {}
    out = set()
    for heading in _HEADING.findall(_FENCE.sub("", text)):
        plain = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link's text stays
        slug = re.sub(r"[^\w\- ]", "", plain.lower().replace("`", "")).replace(" ", "-")
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        out.add(slug if n == 0 else f"{slug}-{n}")
    return out


def broken_links(page: Path) -> list[str]:
    """The relative links of ``page`` that name no file, or no heading of the page named."""
    broken = []
    for target in links(page.read_text(encoding="utf-8")):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):  # https:, mailto:, ...
            continue
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists():
            broken.append(f"{target}: no such file")
        elif anchor and file.suffix == ".md" and anchor not in anchors(file.read_text("utf-8")):
            broken.append(f"{target}: no such heading in {file.name}")
    return broken


def test_the_readme_is_under_250_lines():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) < MAX_README_LINES, f"README.md has {len(lines)} lines"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page: Path):
    assert page.exists()
    assert broken_links(page) == []


def test_every_docs_page_is_linked_from_the_readme():
    assert DOCS, "docs/ holds no page"
    targets = {t.partition("#")[0] for t in links(README.read_text(encoding="utf-8"))}
    assert {f"docs/{p.name}" for p in DOCS} <= targets


def test_the_readme_holds_the_test_command_ci_runs():
    # .ci/run runs "the README's test command": the line after that comment.
    script = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    at = script.index("# The README's test command:")
    command = script[at + 1].strip()
    assert command.startswith("python -m pytest")
    assert command in README.read_text(encoding="utf-8")


def figures_not_in(section: str, pages: str) -> list[str]:
    """The figures (numbers, percentages) of ``section`` that ``pages`` never state."""
    found = re.findall(r"\d[\d,]*(?:\.\d+)?%?", section)
    return sorted({n for n in found if n not in pages})


def test_the_readmes_limitations_quote_figures_the_docs_state():
    # The README summarises; the figures are measured and stated in docs/. A figure re-measured
    # on one side only shows up here.
    readme = README.read_text(encoding="utf-8")
    limitations = readme.split("\n## Known limitations\n")[1].split("\n## ")[0]
    docs = "\n".join(p.read_text(encoding="utf-8") for p in DOCS)
    assert figures_not_in(limitations, docs) == []
    assert figures_not_in(limitations + " 0.1234, 56.7%", docs) == ["0.1234", "56.7%"]


def test_the_docs_name_every_benchmark():
    from pipelines.benchmark import COMMANDS

    public = {name for name in COMMANDS if not name.startswith("_")}
    for page in ("benchmarks.md", "development.md"):
        text = (ROOT / "docs" / page).read_text(encoding="utf-8")
        listed = re.search(r"python -m pipelines\.benchmark ([\w|]+)", text)
        assert listed, f"docs/{page} lists no benchmark"
        assert set(listed.group(1).split("|")) == public, f"docs/{page}"


def test_the_link_check_finds_broken_links_and_headings(tmp_path):
    (tmp_path / "other.md").write_text("# Other page\n\n## A `code` heading\n", encoding="utf-8")
    page = tmp_path / "page.md"
    page.write_text(
        "# Title\n\n## Usage\n\n"
        "[ok](other.md) [ok](other.md#other-page) [ok](other.md#a-code-heading) [ok](#usage)\n"
        "[ok](https://example.org/x.md) `[not a link](gone.md)`\n"
        "```\n[not a link](gone.md)\n```\n"
        "[bad](gone.md) [bad](other.md#nowhere) [bad](#title-2) ![bad](img/none.png)\n",
        encoding="utf-8",
    )
    assert broken_links(page) == [
        "gone.md: no such file",
        "other.md#nowhere: no such heading in other.md",
        "#title-2: no such heading in page.md",
        "img/none.png: no such file",
    ]


def test_anchors_follow_github():
    text = "# The data contract (schema version 1.0)\n## Known limitations\n## Usage\n## Usage\n"
    assert anchors(text) == {
        "the-data-contract-schema-version-10",
        "known-limitations",
        "usage",
        "usage-1",
    }
