"""`verify` also runs central finite differences on the generated kernel."""

import json

import pytest
from gradscribe.codegen import finite_differences
from gradscribe.mathematics import spec


@pytest.mark.parametrize(
    "net",
    [
        "1-8-4-1:relu,relu,identity:mse",
        "3-4-2:leaky_relu@0.2,softmax:cross_entropy:row",
        "3-4-2:elu,sigmoid:binary_cross_entropy",
        "2-5-3:silu,softplus:half_sse:row",
    ],
)
def test_finite_differences_agree_with_the_kernel(net):
    rows = finite_differences.check_kernel(spec.load(net))
    for row in rows:
        assert row.rel_err <= 1e-6, (row.name, row.analytic, row.numeric)
    assert [r.name for r in rows][:2] == ["W1", "B1"]


def test_verify_json_reports_finite_differences(cli):
    status, out, _ = cli("verify", "2-3-2:tanh,sigmoid:binary_cross_entropy:row", "--json")
    data = json.loads(out)
    assert status == 0 and data["ok"] is True
    fd = data["finite_differences"]
    assert fd["ok"] is True and fd["tolerance"] == 1e-6
    assert set(fd["params"]) == {"W1", "B1", "W2", "B2"}
    assert all(p["rel_err"] <= 1e-6 for p in fd["params"].values())


def test_verify_fails_when_the_kernel_is_wrong(monkeypatch, cli):
    original = finite_differences.render_kernel

    def broken(derivation):
        # A slip a person could make: forget the 1/N in the output error.
        text = original(derivation)
        assert "D2 = (P - T) / N" in text
        return text.replace("D2 = (P - T) / N", "D2 = (P - T)")

    monkeypatch.setattr(finite_differences, "render_kernel", broken)
    status, out, _ = cli("verify", "2-3-2:tanh,softmax:cross_entropy")
    assert status == 1
    assert "FAIL W2" in out and "FAIL B2" in out
    assert "6 of 6 formulas proven" in out  # the symbolic proof itself still holds


def test_huge_networks_are_differenced_with_capped_widths():
    small = spec.load("3-4-2:relu,identity:mse")
    assert finite_differences.sized_for_differences(small) == small
    huge = spec.load("4000-3000-10:relu,softmax:cross_entropy")
    capped = finite_differences.sized_for_differences(huge)
    assert capped.sizes == (1000, 1000, 10)
    assert finite_differences._parameters(capped) <= finite_differences.MAX_PARAMETERS
    assert capped.activations == huge.activations and capped.loss == huge.loss
