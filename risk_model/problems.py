"""Contract problems and the error that lists them (shared by validation and its checks)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

MAX_IDS_SHOWN = 5


@dataclass(frozen=True)
class Problem:
    """One kind of contract violation and where it occurs.

    Parameters
    ----------
    field : str
        Offending field, e.g. ``"statements.minimum_due"``.
    check : str
        Short machine-readable code, e.g. ``"minimum_above_billed"``.
    message : str
        What is wrong, in words.
    hint : str
        How to fix it.
    rows : numpy.ndarray
        Row positions of the affected accounts; empty for table-level problems.
    account_ids : tuple of str
        Affected account ids (all of them; messages show the first few).
    """

    field: str
    check: str
    message: str
    hint: str
    rows: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    account_ids: tuple[str, ...] = ()

    @property
    def table_level(self) -> bool:
        """Whether the problem concerns the whole table rather than some accounts."""
        return self.rows.size == 0

    def describe(self) -> str:
        """Return a one-line description naming field, accounts and fix."""
        where = "all rows"
        if not self.table_level:
            shown = ", ".join(repr(a) for a in self.account_ids[:MAX_IDS_SHOWN])
            more = len(self.account_ids) - MAX_IDS_SHOWN
            where = f"{len(self.account_ids)} account(s): {shown}" + (
                f" and {more} more" if more > 0 else ""
            )
        return f"{self.field}: {self.message} [{self.check}] in {where}. Fix: {self.hint}"


class ContractError(ValueError):
    """Input does not meet the data contract; ``problems`` lists every violation."""

    def __init__(self, problems: list[Problem], what: str = "account histories") -> None:
        self.problems = problems
        lines = [f"{what} do not meet the data contract ({len(problems)} problem(s)):"]
        lines += [f"  - {p.describe()}" for p in problems]
        super().__init__("\n".join(lines))


class ContractWarning(UserWarning):
    """Input meets the contract but probably not as meant (base of the warnings below)."""


class NearMissNameWarning(ContractWarning):
    """Extra columns or event fields whose names nearly match contract names.

    They are ignored like any extra name, so the contract field they were meant to
    fill reads as missing. ``near_misses`` lists them
    (:class:`risk_model._names.NearMiss`: ``found``, ``expected``, ``part``).
    """

    def __init__(self, near_misses: list) -> None:
        self.near_misses = list(near_misses)
        lines = [m.describe() for m in self.near_misses]
        super().__init__(
            f"{len(lines)} ignored name(s) look like contract names: " + "; ".join(lines)
        )


class IdTwinWarning(ContractWarning):
    """Account ids that differ only by Unicode normalisation (NFC / NFD) of each other.

    Both are scored (they are distinct ids byte for byte), but they probably name one
    account written by two systems. ``groups`` lists the twins, one tuple per group.
    """

    def __init__(self, groups: list[tuple[str, ...]]) -> None:
        self.groups = list(groups)
        shown = ", ".join(
            "/".join(ascii(i) for i in group) for group in self.groups[:MAX_IDS_SHOWN]
        )
        more = len(self.groups) - MAX_IDS_SHOWN
        super().__init__(
            f"{len(self.groups)} group(s) of account ids equal after Unicode NFC normalisation: "
            f"{shown}{f' and {more} more' if more > 0 else ''}; both ids are scored. "
            "Fix: normalise ids to NFC where they are written"
        )


class UnknownClosureWarning(ContractWarning):
    """Closures of accounts that are not in the histories (they label nothing)."""
