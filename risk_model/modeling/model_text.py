"""Structural check of LightGBM model text before the C library parses it.

LightGBM trusts its own text format: a tree with ``num_leaves`` that disagrees with its
arrays, a child index out of range or ``tree_sizes`` that do not match the blocks make
``lgb.Booster(model_str=...)`` read out of bounds or throw inside an OpenMP region, which
aborts the whole process (SIGABRT), not a catchable error. Checksums do not help: whoever
can write the file can rewrite ``checksums.json`` too.

:func:`check_model_text` accepts only what this package's training writes (LightGBM's
``v4`` text of a binary gbdt model with numerical splits) and refuses anything else with
:class:`~risk_model.modeling.errors.ModelLoadError` naming the file and the field:

* text: printable ASCII lines; header ``tree``, then known ``key=value`` lines;
* header: ``version=v4``, ``num_class=1``, ``num_tree_per_iteration=1``,
  ``label_index=0``, ``objective=binary sigmoid:<s>``, ``max_feature_idx`` and
  ``feature_names`` / ``feature_infos`` / ``monotone_constraints`` matching the spec's
  features, ``tree_sizes`` (if present) equal to each tree block's length;
* trees ``Tree=0..T-1`` in order, each with exactly the known keys
  (:data:`TREE_KEYS`), no categorical or linear leaves, arrays of ``num_leaves - 1``
  (nodes) or ``num_leaves`` (leaves) finite numbers (a ``threshold`` may be ``inf``,
  as LightGBM writes it; never ``nan``), split features in range, decision
  types of numerical splits, and children forming one tree reachable from the root;
* after ``end of trees``: feature importances, the parameters block and
  ``pandas_categorical:null``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from risk_model.modeling.errors import fail, shown

MAX_TREES = 100_000
MAX_LEAVES = 1 << 17
HEADER_KEYS = frozenset(
    {
        "version",
        "num_class",
        "num_tree_per_iteration",
        "label_index",
        "max_feature_idx",
        "objective",
        "feature_names",
        "feature_infos",
    }
)
OPTIONAL_HEADER_KEYS = frozenset({"monotone_constraints", "tree_sizes"})
NODE_FLOATS = ("split_gain", "threshold", "internal_value", "internal_weight")
NODE_INTS = ("split_feature", "decision_type", "left_child", "right_child", "internal_count")
LEAF_KEYS = ("leaf_value", "leaf_weight", "leaf_count")
TREE_KEYS = frozenset(
    {"num_leaves", "num_cat", "is_linear", "shrinkage", *NODE_FLOATS, *NODE_INTS, *LEAF_KEYS}
)
# Numerical splits only: bit 0 (categorical) clear, missing type 0-2 in bits 2-3.
DECISION_TYPES = frozenset({0, 2, 4, 6, 8, 10})
_BAD_CHAR = re.compile(r"[^\x20-\x7e\n]")
_INT = re.compile(r"-?[0-9]{1,10}")
_FLOAT = re.compile(r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]{1,3})?")
_OBJECTIVE = re.compile(r"binary sigmoid:([0-9.eE+-]{1,30})")
_BOUND = f"(?:{_FLOAT.pattern}|-?inf)"
_INFO = re.compile(rf"none|\[{_BOUND}:{_BOUND}\]")
_TREE_START = re.compile(r"^Tree=", re.MULTILINE)
_END = "end of trees\n"
_TAIL = re.compile(
    r"\nfeature_importances:\n(?:[A-Za-z0-9_]+=[0-9]{1,12}\n)*"
    r"\nparameters:\n(?:\[[a-z0-9_]{1,64}: [^\n]{0,10000}\]\n)*"
    r"\nend of parameters\n\npandas_categorical:null\n"
)


def _ints(where: str, field: str, value: str) -> list[int]:
    tokens = value.split(" ") if value else []
    if not all(_INT.fullmatch(t) for t in tokens):
        fail(where, field, f"expected integers, got {shown(value)}")
    return [int(t) for t in tokens]


def _floats(where: str, field: str, value: str, *, infinite: bool = False) -> list[float]:
    tokens = value.split(" ") if value else []
    numbers = [float(t) if _FLOAT.fullmatch(t) else math.nan for t in tokens]
    if infinite:  # LightGBM writes a split that sends every finite value left as inf
        numbers = [
            float(t) if t in ("inf", "-inf") else x for t, x in zip(tokens, numbers, strict=True)
        ]
    # 1e999 matches the pattern but is not finite; nan / inf do not match at all.
    bad = [
        t
        for t, x in zip(tokens, numbers, strict=True)
        if math.isnan(x) or (math.isinf(x) and not infinite)
    ]
    if bad:
        fail(where, field, f"expected finite numbers, got {shown(bad[0])}")
    return numbers


def _key_values(where: str, block: str, lines: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in lines:
        key, sep, value = line.partition("=")
        if not sep:
            fail(where, block, f"expected key=value, got {shown(line)}")
        if key in out:
            fail(where, f"{block}.{shown(key)}", "appears twice")
        out[key] = value
    return out


def _split_blocks(where: str, text: str) -> tuple[str, list[str]]:
    """Return the header and the tree blocks (each as LightGBM's ``tree_sizes`` count it)."""
    bad = _BAD_CHAR.search(text)
    if bad:
        fail(where, "text", f"non-printable or non-ASCII character at offset {bad.start()}")
    trees_end = text.find("\n" + _END)
    if trees_end < 0 or text.count(_END) != 1:
        fail(where, "end of trees", "missing or repeated")
    if not _TAIL.fullmatch(text, trees_end + 1 + len(_END)):
        fail(where, "tail", "feature importances / parameters / pandas_categorical malformed")
    starts = [m.start() for m in _TREE_START.finditer(text, 0, trees_end)]
    if not starts:
        fail(where, "Tree=0", "the model has no trees")
    if len(starts) > MAX_TREES:
        fail(where, "trees", f"more than {MAX_TREES} trees")
    ends = [*starts[1:], trees_end + 1]
    return text[: starts[0]], [text[a:b] for a, b in zip(starts, ends, strict=True)]


def _check_header(where: str, header: str, names: Sequence[str], sizes_of: list[int]) -> None:
    lines = header.split("\n")
    if lines[0] != "tree" or lines[-2:] != ["", ""]:
        fail(where, "header", "must start with 'tree' and end with a blank line")
    values = _key_values(where, "header", lines[1:-2])
    unknown = sorted(set(values) - HEADER_KEYS - OPTIONAL_HEADER_KEYS)
    if unknown:
        fail(where, f"header.{shown(unknown[0])}", "unknown key")
    missing = sorted(HEADER_KEYS - set(values))
    if missing:
        fail(where, f"header.{missing[0]}", "missing")
    fixed = {"version": "v4", "num_class": "1", "num_tree_per_iteration": "1", "label_index": "0"}
    for key, expected in fixed.items():
        if values[key] != expected:
            fail(where, key, f"must be {expected}, got {shown(values[key])}")
    if values["max_feature_idx"] != str(len(names) - 1):
        fail(where, "max_feature_idx", f"must be {len(names) - 1} for {len(names)} features")
    objective = _OBJECTIVE.fullmatch(values["objective"])
    sigmoid = _floats(where, "objective", objective.group(1)) if objective else [0.0]
    if sigmoid[0] <= 0:
        fail(
            where,
            "objective",
            f"must be 'binary sigmoid:<s > 0>', got {shown(values['objective'])}",
        )
    if values["feature_names"].split(" ") != list(names):
        fail(where, "feature_names", "differ from the spec's feature_names")
    infos = values["feature_infos"].split(" ")
    if len(infos) != len(names) or not all(_INFO.fullmatch(i) for i in infos):
        fail(where, "feature_infos", "must be 'none' or '[min:max]' per feature")
    if "monotone_constraints" in values:
        signs = _ints(where, "monotone_constraints", values["monotone_constraints"])
        if len(signs) != len(names) or not set(signs) <= {-1, 0, 1}:
            fail(where, "monotone_constraints", "must be one of -1, 0, 1 per feature")
    if "tree_sizes" in values and _ints(where, "tree_sizes", values["tree_sizes"]) != sizes_of:
        fail(where, "tree_sizes", "do not match the lengths of the tree blocks")


def _check_children(where: str, tree: str, left: list[int], right: list[int]) -> None:
    """Children must form one tree: every node and leaf reached exactly once from node 0."""
    n_nodes = len(left)
    seen_nodes, seen_leaves = [False] * n_nodes, [False] * (n_nodes + 1)
    stack = [0] if n_nodes else []
    if not n_nodes:  # a one-leaf tree: its root is leaf 0
        seen_leaves[0] = True
    while stack:
        node = stack.pop()
        if seen_nodes[node]:
            fail(where, f"{tree}.left_child/right_child", f"node {node} is reached twice")
        seen_nodes[node] = True
        for child in (left[node], right[node]):
            if child >= 0:
                if child >= n_nodes or child == 0:
                    fail(where, f"{tree}.left_child/right_child", f"child {child} out of range")
                stack.append(child)
            elif ~child > n_nodes or seen_leaves[~child]:
                fail(where, f"{tree}.left_child/right_child", f"leaf {~child} bad or reached twice")
            else:
                seen_leaves[~child] = True
    if not all(seen_nodes) or not all(seen_leaves):
        fail(where, f"{tree}.left_child/right_child", "some nodes or leaves are unreachable")


def _check_tree(where: str, index: int, block: str, n_features: int) -> None:
    lines = block.rstrip("\n").split("\n")
    tree = f"Tree={index}"
    if lines[0] != tree:
        fail(where, tree, f"expected {tree}, got {shown(lines[0])}")
    values = _key_values(where, tree, lines[1:])
    if set(values) != TREE_KEYS:
        odd = sorted(set(values) ^ TREE_KEYS)[0]
        fail(where, f"{tree}.{shown(odd)}", "unknown or missing key")
    leaves = _ints(where, f"{tree}.num_leaves", values["num_leaves"])
    if len(leaves) != 1 or not 1 <= leaves[0] <= MAX_LEAVES:
        fail(where, f"{tree}.num_leaves", f"must be in 1..{MAX_LEAVES}")
    n_leaves = leaves[0]
    for key in ("num_cat", "is_linear"):
        if values[key] != "0":
            fail(where, f"{tree}.{key}", "must be 0 (categorical / linear trees not supported)")
    if len(_floats(where, f"{tree}.shrinkage", values["shrinkage"])) != 1:
        fail(where, f"{tree}.shrinkage", "must be one number")
    arrays: dict[str, list[int]] = {}
    for key in (*NODE_FLOATS, *NODE_INTS, *LEAF_KEYS):
        parse = _ints if key in NODE_INTS or key == "leaf_count" else _floats
        array = (
            _floats(where, f"{tree}.{key}", values[key], infinite=True)
            if key == "threshold"
            else parse(where, f"{tree}.{key}", values[key])
        )
        lengths = {n_leaves - 1} if key not in LEAF_KEYS else {n_leaves}
        if key == "leaf_weight" and n_leaves == 1:
            lengths.add(0)  # a one-leaf tree is written without leaf weights
        if len(array) not in lengths:
            fail(where, f"{tree}.{key}", f"has {len(array)} values for {n_leaves} leaves")
        arrays[key] = array
    if any(not 0 <= f < n_features for f in arrays["split_feature"]):
        fail(where, f"{tree}.split_feature", f"feature index outside 0..{n_features - 1}")
    if not set(arrays["decision_type"]) <= DECISION_TYPES:
        fail(where, f"{tree}.decision_type", "only numerical splits are supported")
    if any(c < 0 for c in arrays["leaf_count"] + arrays["internal_count"]):
        fail(where, f"{tree}.leaf_count", "counts must be >= 0")
    _check_children(where, tree, arrays["left_child"], arrays["right_child"])


def check_model_text(text: str, feature_names: Sequence[str], *, where: str) -> None:
    """Refuse LightGBM model text that this package's training would not have written.

    Parameters
    ----------
    text : str
        The model text (``Booster.model_to_string``).
    feature_names : sequence of str
        The spec's feature names, in model order.
    where : str
        The file name used in error messages.

    Raises
    ------
    ModelLoadError
        ``"<where>: <field>: <problem>"`` on the first structural problem found.
    """
    header, trees = _split_blocks(where, text)
    _check_header(where, header, feature_names, [len(b) for b in trees])
    for index, block in enumerate(trees):
        _check_tree(where, index, block, len(feature_names))
