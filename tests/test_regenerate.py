"""`gradscribe regenerate [--check]` and the kernels committed in generated/."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import numpy as np
import pytest
from gradscribe.codegen.stamp import stamp
from gradscribe.derive.spec import DEFAULT_SPEC, load_file

GENERATED = Path(__file__).resolve().parent.parent / "generated"


@pytest.fixture
def copy(tmp_path):
    """A copy of generated/ to edit."""
    target = tmp_path / "generated"
    shutil.copytree(GENERATED, target)
    return target


def test_committed_kernels_are_up_to_date(cli):
    status, out, err = cli("regenerate", "--check", "--dir", str(GENERATED))
    assert status == 0, out + err
    assert out.strip() == "all 10 generated kernels up to date"


def test_reference_networks():
    nets = {path.stem: load_file(path) for path in sorted(GENERATED.glob("*.toml"))}
    assert set(nets) == {"height_mlp", "row_regression", "softmax_classifier", "sigmoid_classifier",
                         "regularized_classifier"}
    assert (GENERATED / "height_mlp.toml").read_text() == DEFAULT_SPEC
    row = nets["row_regression"]
    assert row.layout == "row" and row.activations[:-1] == ("relu",) * 3 and row.loss == "mse"
    assert nets["softmax_classifier"].activations[-1] == "softmax"
    assert nets["softmax_classifier"].loss == "cross_entropy"
    assert nets["sigmoid_classifier"].activations[-1] == "sigmoid"
    assert nets["sigmoid_classifier"].loss == "binary_cross_entropy"
    regularized = nets["regularized_classifier"]  # every feature of contract section 7
    assert regularized.penalty == "weight_decay" and regularized.normalizes and regularized.drops
    for stem, net in nets.items():
        assert net.name == stem


def test_committed_kernels_run():
    for path in sorted(GENERATED.glob("*.py")):
        module_spec = importlib.util.spec_from_file_location(f"gen_{path.stem}", path)
        module = importlib.util.module_from_spec(module_spec)
        module_spec.loader.exec_module(module)
        rng = np.random.default_rng(0)
        params = module.init_params(rng)
        sizes = module.SPEC["sizes"]
        column = module.SPEC["layout"] == "column"
        X = rng.standard_normal((sizes[0], 6) if column else (6, sizes[0]))
        T = rng.random((sizes[-1], 6) if column else (6, sizes[-1]))
        value, grads = module.loss_and_grads(params, X, T)
        assert np.isfinite(value)
        assert {k: g.shape for k, g in grads.items()} == {k: p.shape for k, p in params.items()}


def test_check_fails_after_a_hand_edit_and_names_every_stale_file(cli, copy):
    edited = copy / "softmax_classifier.py"
    edited.write_text(edited.read_text().replace("# eq:dW1", "# edited by hand"))
    (copy / "height_mlp.py").unlink()
    status, out, _ = cli("regenerate", "--check", "--dir", str(copy))
    assert status == 1
    assert f"stale: {edited}" in out
    assert f"missing: {copy / 'height_mlp.py'}" in out
    assert "row_regression" not in out and "sigmoid_classifier" not in out


def test_check_covers_the_textbook_style_too(cli, copy):
    edited = copy / "sigmoid_classifier_textbook.py"
    edited.write_text(edited.read_text().replace("# (dW1)", "# (dW1) edited"))
    (copy / "row_regression_textbook.py").unlink()
    status, out, _ = cli("regenerate", "--check", "--dir", str(copy))
    assert status == 1
    assert f"stale: {edited} (differs from what the generator renders; edited by hand since" in out
    assert f"missing: {copy / 'row_regression_textbook.py'}" in out
    assert "2 of 10 generated kernels out of date" in out
    status, out, _ = cli("regenerate", "--dir", str(copy))
    assert (copy / "row_regression_textbook.py").read_text() == (GENERATED / "row_regression_textbook.py").read_text()
    assert "    dW1 = X.T @ D1  # (dW1)\n" in (GENERATED / "sigmoid_classifier_textbook.py").read_text()


def test_regenerate_rewrites_and_then_check_passes(cli, copy):
    # a kernel an older generator wrote: stamped, unedited, but not what is rendered today
    edited = copy / "sigmoid_classifier.py"
    older = (GENERATED / "sigmoid_classifier.py").read_text().replace("# eq:dW1", "# older wording")
    body_line = next(line for line in older.splitlines() if line.startswith("Body sha256: "))
    edited.write_text(stamp(older.replace(body_line + "\n", "")))
    status, out, _ = cli("regenerate", "--dir", str(copy))
    assert status == 0 and f"wrote {edited}" in out
    assert edited.read_text() == (GENERATED / "sigmoid_classifier.py").read_text()
    assert cli("regenerate", "--check", "--dir", str(copy))[0] == 0


def test_a_hand_edited_kernel_survives_regenerate_without_force(cli, copy):
    edited = copy / "softmax_classifier.py"
    text = edited.read_text().replace("# eq:dW1", "# my note")
    edited.write_text(text)
    foreign = copy / "height_mlp.py"
    foreign.write_text("# my own height model\n")
    (copy / "row_regression.py").unlink()
    status, out, err = cli("regenerate", "--dir", str(copy))
    assert status == 1
    assert err.splitlines() == [
        f"gradscribe: {foreign} was not written by gradscribe; not overwritten (--force overwrites it)",
        f"gradscribe: {edited} was edited by hand since gradscribe wrote it; not overwritten "
        "(--force overwrites it)",
    ]
    assert f"wrote {copy / 'row_regression.py'}" in out  # the others are still brought up to date
    assert "1 of 10 generated kernels rewritten, 2 left as they are" in out
    assert edited.read_text() == text and foreign.read_text() == "# my own height model\n"
    status, out, _ = cli("regenerate", "--check", "--dir", str(copy))
    assert status == 1
    assert f"stale: {edited} (differs from what the generator renders; edited by hand" in out
    status, out, _ = cli("regenerate", "--force", "--dir", str(copy))
    assert status == 0 and "2 of 10 generated kernels rewritten" in out
    assert cli("regenerate", "--check", "--dir", str(copy))[0] == 0


def test_bad_folder_is_a_usage_error(cli, tmp_path):
    status, _, err = cli("regenerate", "--check", "--dir", str(tmp_path / "nowhere"))
    assert status == 2 and len(err.strip().splitlines()) == 1
    status, _, err = cli("regenerate", "--check", "--dir", str(tmp_path))
    assert status == 2 and "no *.toml" in err
