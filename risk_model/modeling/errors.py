"""Errors raised while saving or loading a model artefact, and their message format.

Every refusal of a loaded file says which file and which field::

    <file>: <field>: <problem>

Values taken from the file are quoted with :func:`shown` (``repr``, cut short), so a
crafted value (a newline, an ANSI escape, a megabyte of text) cannot forge or flood a
log line.
"""

from __future__ import annotations

from typing import Any, NoReturn

_SHOWN = 60


class ArtefactError(ValueError):
    """The artefact directory is incomplete, altered or inconsistent."""


class ModelLoadError(ArtefactError):
    """The model cannot be found, downloaded, verified or parsed."""


def shown(value: Any) -> str:
    """Return a short, single-line, escaped rendering of a value read from a file.

    Parameters
    ----------
    value : Any
        Any value.

    Returns
    -------
    str
        ``repr(value)`` cut to about 60 characters (``...`` marks a cut); never
        contains a control character.
    """
    try:
        text = repr(value)
    except Exception:  # a hostile object cannot come from JSON, but stay total
        text = f"<{type(value).__name__}>"
    text = text.encode("ascii", "backslashreplace").decode("ascii")
    text = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."


def fail(file: str, field: str, problem: str) -> NoReturn:
    """Raise :class:`ModelLoadError` as ``"<file>: <field>: <problem>"``.

    Parameters
    ----------
    file : str
        The file refused (path or name).
    field : str
        The field (dotted path, e.g. ``scale.base_odds`` or ``Tree=3.left_child``).
    problem : str
        What is wrong; quote file values with :func:`shown`.

    Raises
    ------
    ModelLoadError
        Always.
    """
    raise ModelLoadError(f"{file}: {field}: {problem}")
