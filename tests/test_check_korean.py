"""`check --lang ko`: every verdict, diagnosis and note of a check report from the message
catalogue (check/messages/), English byte-identical to the reports as they always were.

The Korean golden files are a wrong program (two slips at once) and a right one (layer objects
sharing self.params); the English golden files are the same checks, for comparison.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import string
from pathlib import Path

import pytest

import gradscribe as gs
from gradscribe.check.judge import check_function
from gradscribe.check.messages import Text, catalogue, from_wire, render

BACKPROPS = Path(__file__).parent / "backprops"
COURSES = BACKPROPS / "courses.py"
_spec = importlib.util.spec_from_file_location("courses_korean", COURSES)
courses = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(courses)

WRONG = ("3-4-4-2:sigmoid,sigmoid,sigmoid:half_sse:row", "missing_prime_and_inherited")
RIGHT = ("3-4-2:relu,softmax:cross_entropy:row", "TwoLayerNet.gradient")


def _fields(template: str) -> list:
    return sorted({f[1] for f in string.Formatter().parse(template) if f[1]})


def test_the_catalogues_have_the_same_sentences_and_fields():
    en, ko = catalogue("en"), catalogue("ko")
    assert set(en) == set(ko)
    assert [k for k in en if _fields(en[k]) != _fields(ko[k])] == []
    # every sentence with words is translated; these four are punctuation around fields
    assert [k for k in en if ko[k] == en[k]] == ["diag.slip", "cat", "hint.flag", "figs.where"]
    with pytest.raises(ValueError, match="unknown language 'fr'"):
        catalogue("fr")


@pytest.mark.parametrize("lang", ["en", "ko"])
@pytest.mark.parametrize("case,name", [(WRONG, "check_two_slips"), (RIGHT, "check_layer_objects")])
def test_reports_match_their_golden_files(cli, golden, case, name, lang):
    net, target = case
    extra = () if lang == "en" else ("--lang", "ko")
    status, out, err = cli("check", net, "--python", f"{COURSES}:{target}", *extra)
    assert status == (1 if case is WRONG else 0), err
    golden(f"{name}{'' if lang == 'en' else '.ko'}.txt", out)


def test_korean_json_and_the_api():
    report = check_function(WRONG[0], getattr(courses, WRONG[1]), lang="ko")
    data = report.to_json()
    assert data["params"]["W2"]["diagnosis"] == (
        "dW2: 층 2의 활성화 함수 도함수 sigmoid'(G2)를 빠뜨렸습니다")
    assert json.dumps(data, ensure_ascii=False).count("params['b1']") == 1
    english = check_function(WRONG[0], getattr(courses, WRONG[1]))
    assert english.params["W2"].diagnosis == (
        "dW2: leaves out the activation derivative sigmoid'(G2) of layer 2")
    net = gs.network("3-4-2:tanh,sigmoid:half_sse:row")
    table = net.check(courses.bias_unsummed_and_missing_prime, lang="ko").table()
    assert "dB2(층 2)에는 실수가 둘 있습니다: 배치에 대해 줄이지 않았습니다" in table
    assert table.endswith("틀림: B2")
    formula = net.check_formula("dW2 = R1.T @ D2", lang="ko")
    assert formula.table().endswith("모두 맞습니다")
    assert "dW2(은)는 유도한 값과도 정확히 같습니다" in formula.table()
    with pytest.raises(ValueError, match="unknown language"):
        net.check(courses.cross_entropy_delta, lang="xx")


def test_a_sentence_from_the_worker_is_believed_only_when_it_renders_its_english():
    text = Text("summary.wrong", names="W1")
    assert from_wire("WRONG: W1", text.to_wire()) == text
    assert render(from_wire("WRONG: W1", text.to_wire()), "ko") == "틀림: W1"
    assert type(from_wire("WRONG: W2", text.to_wire())) is str  # not what it says it is
    assert type(from_wire("x", ["no.such.key", {}])) is str
    assert type(from_wire("x", "garbage")) is str


def test_every_diagnosis_and_note_of_the_sweep_is_from_the_catalogue():
    spec = importlib.util.spec_from_file_location("sweep_korean", Path(__file__).parent / "test_check_sweep.py")
    sweep = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sweep)
    plain = []
    for (acts, loss), layout in itertools.product(sweep.SLIP_NETS, ("column", "row")):
        for bugs in sweep.usable(acts, loss) + list(itertools.combinations(sweep.usable(acts, loss), 2))[::5]:
            report = check_function(sweep._net(acts, loss, layout),
                                    sweep.STYLES["lower"](acts, loss, layout, bug=bugs), lang="ko")
            report.table()
            plain += [p.diagnosis for p in report.params.values()
                      if p.diagnosis is not None and not isinstance(p.diagnosis, Text)]
            plain += [n for n in report.notes if not isinstance(n, Text)]
    assert plain == []
