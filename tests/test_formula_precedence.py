"""`check --formula` names an operator-precedence slip (``(P - T) * 1 - R3**2``) and the
brackets that fix it, instead of "no simple cause found"."""

from __future__ import annotations

import pytest
from gradscribe.check.precedence import regroupings

from gradscribe.cli import main

NET = "3-7-7-2:tanh,tanh,tanh:half_sse"  # wider than 6: judged numerically only (fast)


@pytest.mark.parametrize("layout,formula,sentence", [
    ("column", "D3 = (P - T) * 1 - R3**2",
     ("D3 (layer 3): operator precedence: `*` binds tighter than `-`, so it computes "
     "`((P - T) * 1) - R3 ** 2`; write `(P - T) * (1 - R3 ** 2)`")),
    ("column", "D1 = W2.T @ D2 * 1 - R1**2",
     ("D1 (layer 1): operator precedence: `*` binds tighter than `-`, so it computes "
     "`((W2.T @ D2) * 1) - R1 ** 2`; write `(W2.T @ D2) * (1 - R1 ** 2)`")),
    ("row", "D2 = 1 - R2**2 * (D3 @ W3.T)",
     ("D2 (layer 2): operator precedence: `*` binds tighter than `-`, so it computes "
     "`1 - (R2 ** 2 * (D3 @ W3.T))`; write `(1 - R2 ** 2) * (D3 @ W3.T)`")),
])
def test_a_precedence_slip_is_named_with_its_brackets(layout, formula, sentence, capsys):
    status = main(["check", f"{NET}:{layout}", "--formula", formula])
    out = capsys.readouterr().out
    assert status == 1
    assert sentence in out
    fixed = sentence.rsplit("write `", 1)[1].rstrip("`")
    status = main(["check", f"{NET}:{layout}", "--formula", f"{formula.split('=')[0]}= {fixed}"])
    assert status == 0 and "all right" in capsys.readouterr().out


def test_other_wrong_formulas_keep_their_own_diagnosis(capsys):
    status = main(["check", NET, "--formula", "D3 = 2 * P - T / N"])
    out = capsys.readouterr().out
    assert status == 1 and "no simple cause found" in out and "precedence" not in out


def test_regroupings_are_text_only():
    assert [r.text for r in regroupings("D3 = A * B - C + D @ E")] == [
        "D3 = (A * B - C + D) @ E", "D3 = A * (B - C) + D @ E"]
    assert regroupings("D3 = (") == [] and regroupings("D3 = A @ B") == []
