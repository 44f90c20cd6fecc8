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
