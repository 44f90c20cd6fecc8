"""Exact TreeSHAP for small LightGBM trees, vectorised over rows with lookup tables.

LightGBM's ``pred_contrib`` walks every tree for every row. For a tree with ``K`` split
nodes, a row's path-dependent TreeSHAP values depend on the row only through which way it
goes at each of those nodes: ``K`` bits, ``2**K`` patterns. :class:`TreeTables` computes,
once per model, the contributions of every pattern of every tree (the same path-dependent
TreeSHAP that LightGBM computes, from the same node covers), and
:meth:`TreeTables.contributions` then needs only whole-array operations: the decision bits
of all nodes, one pattern code per tree, one table lookup per (tree, feature) and a sum per
feature. That is about 10x faster than ``pred_contrib`` in batch and as fast for one row.

For leaf ``l`` with unique path features ``U`` (``m`` of them), cover fraction ``z_j``
(product of child/parent counts along the path's splits on ``j``) and ``o_j`` (1 when
the row takes the path's direction at all of them), TreeSHAP gives feature ``i``

    v_l * (o_i - z_i) * sum_{S in U-{i}} |S|! (m-|S|-1)! / m! * prod_S o_j * prod_rest z_j

summed over leaves and trees; the expected value is the count-weighted mean leaf value.
Models this layout cannot hold (categorical splits, linear trees, more than
:data:`MAX_SPLITS_PER_TREE` splits in a tree) are reported by :func:`tree_tables`
returning ``None``; the caller then uses ``pred_contrib``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

MAX_SPLITS_PER_TREE = 10  # 2**10 patterns per tree at most
_ZERO = 1e-35  # LightGBM's kZeroThreshold: |x| <= this counts as zero
_MISSING_NONE, _MISSING_ZERO, _MISSING_NAN = 0, 1, 2


@dataclass(frozen=True)
class _Tree:
    split_feature: np.ndarray
    threshold: np.ndarray
    decision_type: np.ndarray
    left: np.ndarray
    right: np.ndarray
    leaf_value: np.ndarray
    leaf_count: np.ndarray
    internal_count: np.ndarray


def _numbers(fields: dict[str, str], key: str, dtype: type) -> np.ndarray:
    text = fields.get(key, "")
    return np.array([dtype(v) for v in text.split()] if text else [], dtype=dtype)


def _parse_trees(model_text: str) -> list[_Tree] | None:
    """Trees of a LightGBM text model; ``None`` for layouts the tables cannot hold."""
    trees: list[_Tree] = []
    for block in model_text.split("\nTree=")[1:]:
        lines = block.split("\n\n", 1)[0].splitlines()[1:]
        fields = dict(line.split("=", 1) for line in lines if "=" in line)
        if int(fields.get("num_cat", "0")) or int(fields.get("is_linear", "0")):
            return None
        trees.append(
            _Tree(
                split_feature=_numbers(fields, "split_feature", int),
                threshold=_numbers(fields, "threshold", float),
                decision_type=_numbers(fields, "decision_type", int),
                left=_numbers(fields, "left_child", int),
                right=_numbers(fields, "right_child", int),
                leaf_value=_numbers(fields, "leaf_value", float),
                leaf_count=_numbers(fields, "leaf_count", float),
                internal_count=_numbers(fields, "internal_count", float),
            )
        )
    return trees


def _leaf_paths(tree: _Tree) -> list[tuple[int, list[tuple[int, bool]]]]:
    """``(leaf, [(node, goes_left), ...])`` for every leaf, root first."""
    out, stack = [], [(0, [])]
    while stack:
        node, path = stack.pop()
        for child, goes_left in ((tree.left[node], True), (tree.right[node], False)):
            step = [*path, (node, goes_left)]
            if child < 0:
                out.append((~child, step))
            else:
                stack.append((child, step))
    return out


def _shapley_weights(m: int) -> np.ndarray:
    return np.array(
        [math.factorial(s) * math.factorial(m - s - 1) / math.factorial(m) for s in range(m)]
    )


def _tree_table(tree: _Tree) -> tuple[np.ndarray, np.ndarray]:
    """Contributions of every decision pattern: ``(features used, table[pattern, slot])``."""
    k = len(tree.split_feature)
    patterns = np.arange(2**k)
    goes_left = ((patterns[:, None] >> np.arange(k)) & 1).astype(bool)  # (patterns, nodes)
    used = np.unique(tree.split_feature)
    slot = {int(f): i for i, f in enumerate(used)}
    table = np.zeros((len(patterns), len(used)))
    for leaf, path in _leaf_paths(tree):
        features: dict[int, tuple[np.ndarray, float]] = {}
        for node, left in path:
            child = tree.left[node] if left else tree.right[node]
            feature = int(tree.split_feature[node])
            follows = goes_left[:, node] == left
            o, z = features.get(feature, (np.ones(len(patterns), bool), 1.0))
            # cover fraction: training rows of the child / of the node (LightGBM's counts)
            covered = tree.internal_count[child] if child >= 0 else tree.leaf_count[~child]
            features[feature] = (o & follows, z * covered / tree.internal_count[node])
        weights = _shapley_weights(len(features))
        for i, (o_i, z_i) in features.items():
            # poly[s]: sum over subsets S of the other features with |S| = s of
            # prod_S o_j * prod_rest z_j (elementary symmetric polynomials, built up).
            poly = [np.ones(len(patterns))]
            for j, (o_j, z_j) in features.items():
                if j == i:
                    continue
                nxt = [p * z_j for p in poly] + [np.zeros(len(patterns))]
                for s, p in enumerate(poly):
                    nxt[s + 1] = nxt[s + 1] + p * o_j
                poly = nxt
            g = sum(w * p for w, p in zip(weights, poly, strict=True))
            table[:, slot[i]] += tree.leaf_value[leaf] * (o_i - z_i) * g
    return used, table


@dataclass(frozen=True)
class TreeTables:
    """Per-model lookup tables for :meth:`contributions` (build with :func:`tree_tables`).

    Split nodes are laid out tree by tree, each tree padded to the same number of
    nodes (padding nodes have step 0).
    """

    n_features: int
    expected_value: float
    node_feature: np.ndarray  # (trees * width,) feature of each split node
    node_threshold: np.ndarray
    node_nan_left: np.ndarray  # where a missing (NaN) value goes
    node_step: np.ndarray  # (trees, width) 2**position * slots of the tree, 0 for padding
    tree_base: np.ndarray  # offset of each tree's pattern table in ``table``
    zero_nodes: np.ndarray  # nodes whose missing type is "zero" (0 goes the default way)
    zero_left: np.ndarray
    slot_tree: np.ndarray  # (S,) tree of each (tree, feature) slot, sorted by feature
    slot_column: np.ndarray  # column of the slot in its tree's pattern table
    feature_starts: np.ndarray  # first slot of each used feature
    used_features: np.ndarray
    table: np.ndarray  # flat contributions, per tree (pattern, slot)

    def __post_init__(self) -> None:
        # read-only: artefacts of the same model text share one set of tables
        for value in vars(self).values():
            if isinstance(value, np.ndarray):
                value.flags.writeable = False

    def contributions(self, x: np.ndarray) -> np.ndarray:
        """TreeSHAP values, ``(n, n_features + 1)``; the last column is the expected value.

        Parameters
        ----------
        x : numpy.ndarray
            ``(n, n_features)`` float64 model inputs (after the model's transforms).
        """
        n = len(x)
        out = np.zeros((self.n_features + 1, n))
        out[-1] = self.expected_value
        if n == 0 or len(self.node_feature) == 0:
            return out.T
        values = np.ascontiguousarray(x.T)[self.node_feature]  # (nodes, n)
        threshold = self.node_threshold[:, None]
        # LightGBM: x <= threshold goes left; NaN goes the default way (missing type
        # "nan") or counts as 0 (type "none"), which node_nan_left folds in.
        left = np.where(self.node_nan_left[:, None], ~(values > threshold), values <= threshold)
        if len(self.zero_nodes):  # type "zero": 0 (and NaN) go the default way
            zero = self.zero_nodes
            is_zero = np.isnan(values[zero]) | (np.abs(values[zero]) <= _ZERO)
            left[zero] = np.where(is_zero, self.zero_left[:, None], left[zero])
        trees, width = self.node_step.shape
        left = left.reshape(trees, width, n)
        # Row of each tree's pattern table in the flat table, then each slot's column.
        rows = np.repeat(self.tree_base[:, None], n, axis=1)
        for position in range(width):
            rows += left[:, position] * self.node_step[:, position, None]
        index = rows[self.slot_tree] + self.slot_column[:, None]
        # Sums over slots in a fixed order per row: a row's values do not depend on
        # the other rows of the batch.
        out[self.used_features] = np.add.reduceat(self.table[index], self.feature_starts, axis=0)
        return out.T


def tree_tables(model_text: str, n_features: int) -> TreeTables | None:
    """Build the lookup tables of a LightGBM text model (binary or regression).

    Returns
    -------
    TreeTables or None
        ``None`` when the model has categorical splits, linear trees or a tree with
        more than :data:`MAX_SPLITS_PER_TREE` splits (use ``pred_contrib`` then).
    """
    trees = _parse_trees(model_text)
    if trees is None or any(len(t.split_feature) > MAX_SPLITS_PER_TREE for t in trees):
        return None
    expected = 0.0
    nodes, slots, tables, bases, widths = [], [], [], [], []
    offset = 0
    for tree in trees:
        if len(tree.split_feature) == 0:  # a single leaf: only the expected value
            expected += float(tree.leaf_value[0])
            continue
        expected += float(np.sum(tree.leaf_count / tree.internal_count[0] * tree.leaf_value))
        used, table = _tree_table(tree)
        t = len(tables)
        nodes.append(tree)
        slots.extend((int(feature), t, i) for i, feature in enumerate(used))
        bases.append(offset)
        widths.append(len(used))
        tables.append(table.ravel())
        offset += table.size
    width = max((len(t.split_feature) for t in nodes), default=0)

    def padded(part, fill) -> np.ndarray:
        return np.concatenate(
            [np.r_[part(t), np.full(width - len(t.split_feature), fill)] for t in nodes]
            or [np.zeros(0)]
        )

    decision = padded(lambda t: t.decision_type, 0).astype(np.int64)
    threshold = padded(lambda t: t.threshold, 0.0)
    default_left = (decision & 2).astype(bool)
    missing = (decision >> 2) & 3
    nan_left = ((missing != _MISSING_NONE) & default_left) | (
        (missing == _MISSING_NONE) & (threshold >= 0.0)
    )
    zero_nodes = np.flatnonzero(missing == _MISSING_ZERO)
    slots.sort()  # by feature, then tree: the order of the per-feature sums
    feature = np.array([s[0] for s in slots], dtype=np.intp)
    starts = np.flatnonzero(np.r_[True, feature[1:] != feature[:-1]]) if slots else feature
    return TreeTables(
        n_features=n_features,
        expected_value=expected,
        node_feature=padded(lambda t: t.split_feature, 0).astype(np.intp),
        node_threshold=threshold,
        node_nan_left=nan_left,
        node_step=np.array(
            [
                [2**p * w if p < len(t.split_feature) else 0 for p in range(width)]
                for t, w in zip(nodes, widths, strict=True)
            ],
            dtype=np.int64,
        ).reshape(len(nodes), width),
        tree_base=np.array(bases, dtype=np.int64),
        zero_nodes=zero_nodes,
        zero_left=default_left[zero_nodes],
        slot_tree=np.array([s[1] for s in slots], dtype=np.intp),
        slot_column=np.array([s[2] for s in slots], dtype=np.int64),
        feature_starts=starts.astype(np.intp),
        used_features=feature[starts] if slots else feature,
        table=np.concatenate(tables) if tables else np.zeros(0),
    )
