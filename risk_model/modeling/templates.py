"""Reason templates rendered with a restricted formatter, never with ``str.format``.

A catalogue's reason templates come from ``spec.json``, a file read from disk or from a
model registry. ``str.format`` on such text is unsafe: ``{value:>999999999}`` allocates
a gigabyte per text, and ``{value.__class__}`` walks attributes. Templates here allow:

* literal text (``{{`` and ``}}`` for braces);
* named placeholders from :data:`ALLOWED_NAMES` only (no attribute, index or
  conversion such as ``!r``): ``{value}`` (the feature's value), ``{contribution}`` (its
  contribution in log-odds, analyst texts), ``{s}``, the plural ending of the unit
  after the value (empty when the value reads as 1, else "s": ``month{s}``), and
  ``{category}``, a user attribute's category as text (:mod:`risk_model.attributes`);
  the last two take no format spec;
* format specs of the small grammar :data:`SPEC_GRAMMAR`: an optional sign
  (``+``, ``-`` or space), ``z``, ``,``, a precision ``.N`` with ``N <= 6`` and a type
  ``f`` or ``%`` (``{value:z.0f}``, ``{value:+z.0%}``, ``{value:,.2f}``), or none.

:func:`check_template` refuses anything else (:class:`TemplateError`); the artefact
loader runs it on every template so an unsafe one refuses the model at load time.
:func:`render` fills a template that passed the check.
"""

from __future__ import annotations

import functools
import re
import string
from collections.abc import Mapping

ALLOWED_NAMES = frozenset({"value", "contribution", "s", "category"})
PLURAL = "s"
TEXT = "category"  # filled with text as given, never formatted
SPEC_GRAMMAR = re.compile(r"[-+ ]?z?,?(?:\.[0-6])?[f%]?")
MAX_TEMPLATE_CHARS = 500
_Piece = tuple[str, str | None, str]  # literal, placeholder name, format spec


class TemplateError(ValueError):
    """A reason template outside the safe grammar."""


@functools.lru_cache(maxsize=1024)
def _parse_str(template: str) -> tuple[_Piece, ...]:
    if len(template) > MAX_TEMPLATE_CHARS:
        raise TemplateError(f"template longer than {MAX_TEMPLATE_CHARS} characters")
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:  # unbalanced braces
        raise TemplateError(f"malformed template: {exc}") from exc
    pieces = []
    for literal, name, spec, conversion in parsed:
        if name is None:
            pieces.append((literal, None, ""))
            continue
        if name not in ALLOWED_NAMES:
            allowed = ", ".join(sorted(ALLOWED_NAMES))
            raise TemplateError(f"placeholder {{{name[:40]}}} is not one of: {allowed}")
        if conversion is not None:
            raise TemplateError(f"conversion !{conversion} is not allowed")
        if not SPEC_GRAMMAR.fullmatch(spec or ""):
            raise TemplateError(f"format spec {spec[:40]!r} is not allowed (e.g. .0f, .1%, ,)")
        if name in (PLURAL, TEXT) and spec:
            raise TemplateError(f"{{{name}}} takes no format spec")
        pieces.append((literal, name, spec or ""))
    return tuple(pieces)


def _parse(template: str) -> tuple[_Piece, ...]:
    if not isinstance(template, str):  # checked first: the cache needs a hashable key
        raise TemplateError(f"a template must be a string, not {type(template).__name__}")
    return _parse_str(template)


def check_template(template: str) -> None:
    """Raise :class:`TemplateError` unless ``template`` is in the safe grammar.

    Parameters
    ----------
    template : str
        A reason template (empty is allowed).

    Raises
    ------
    TemplateError
        On a non-string, an over-long or malformed template, a placeholder outside
        :data:`ALLOWED_NAMES`, a conversion, or a format spec outside the grammar.
    """
    _parse(template)


def render(template: str, values: Mapping[str, float | str]) -> str:
    """Fill a template with numbers.

    Parameters
    ----------
    template : str
        A template that passes :func:`check_template`.
    values : mapping of str to float or str
        A number for every placeholder name the template uses (``{s}`` reads ``value``);
        the text for ``{category}``.

    Returns
    -------
    str
        The filled text.

    Raises
    ------
    TemplateError
        When the template is unsafe or uses a name ``values`` lacks.
    """
    out = []
    for literal, name, spec in _parse(template):
        out.append(literal)
        if name is None:
            continue
        key = "value" if name == PLURAL else name
        if key not in values:
            raise TemplateError(f"no value for placeholder {{{name}}}")
        if name == PLURAL:
            out.append("" if abs(round(float(values[key]))) == 1 else "s")
        elif name == TEXT:
            out.append(str(values[key]))
        else:
            out.append(format(float(values[key]), spec))
    return "".join(out)
