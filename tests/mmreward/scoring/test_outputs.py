"""The one output-dict constructor: ties are null, the fields keep the contract's order."""
from __future__ import annotations

import json

from mmreward.errors import MediaNotFoundError, RecordError
from mmreward.scoring.outputs import error_output, preferred, scored


def test_preferred_is_the_single_best_and_null_on_a_shared_best():
    assert preferred([0.2, 0.7]) == 1
    assert preferred([0.7]) == 0
    assert preferred([0.5, 0.5]) is None  # a judge's tie verdict: equal rewards
    assert preferred([1.0, 3.0, 3.0]) is None  # the best is shared, whatever the rest
    assert preferred([3.0, 1.0, 1.0]) == 0  # a tie below the best is no tie of the preference
    assert preferred([]) is None


def test_scored_builds_the_contract_in_order_and_writes_null():
    out = scored([0.5, 0.5], {"VQ": (1.0, 2.0)}, judge_text=["Both images are equally good."])
    assert list(out) == ["rewards", "preferred", "dimensions", "judge_text"]
    assert out["preferred"] is None and out["dimensions"] == {"VQ": [1.0, 2.0]}
    assert json.loads(json.dumps(out))["preferred"] is None  # "preferred": null on the wire
    assert "dimensions" not in scored([1.0, 0.0], {})


def test_error_output_marks_retryable_causes_only():
    assert error_output("a", RecordError("bad")) == {"id": "a", "error": "bad"}
    assert error_output("a", MediaNotFoundError("gone"))["retryable"] is True


def test_no_other_module_computes_the_preferred_candidate():
    """One constructor: every family, combo, adapter and the service take `preferred` from
    `mmreward.scoring.outputs`; an argmax (or an index) written into "preferred" elsewhere is a
    second copy of the rule, which is how a tie once read as 0."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[3]
    rule = re.compile(r"""["']preferred["']\]?\s*[:=]\s*(max\(|int\(|np\.|numpy\.|sorted\(|\d)"""
                      r"|^def _?preferred\(")
    own = {"mmreward/scoring/outputs.py", "mmreward/probe/stats.py"}  # the probes' is within a tolerance
    copies = [f"{path}:{n}" for base in ("mmreward", "eval") for p in sorted((root / base).rglob("*.py"))
              if (path := str(p.relative_to(root))) not in own
              for n, line in enumerate(p.read_text().splitlines(), 1) if rule.search(line)]
    assert copies == [], copies
