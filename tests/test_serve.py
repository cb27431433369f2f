"""`gradscribe serve` (contract section 10), over plain HTTP: each security refusal, bounded
input shown as a message, a FUNC that crashes, floods or hangs, and Ctrl-C."""

from __future__ import annotations

import http.client
import os
import re
import signal
import subprocess
import sys
import threading
import time
from urllib.parse import urlencode

import pytest

from gradscribe import page

RIGHT_CODE = """
import numpy as np

def backward(params, X, T):
    W1, B1, W2, B2 = params["W1"], params["B1"], params["W2"], params["B2"]
    G1 = W1 @ X + B1
    R1 = np.maximum(G1, 0)
    P = W2 @ R1 + B2
    N = X.shape[1]
    D2 = 2 / N * (P - T)
    D1 = (W2.T @ D2) * (G1 > 0)
    return {"W1": D1 @ X.T, "B1": D1.sum(axis=1, keepdims=True),
            "W2": D2 @ R1.T, "B2": D2.sum(axis=1, keepdims=True)}
"""
NET = "2-3-1:relu,identity:mse"


class Server:
    """`gradscribe serve --port 0` in a subprocess: its port, token and process."""

    def __init__(self, tmp=None):
        env = dict(os.environ, TMPDIR=str(tmp)) if tmp else None
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gradscribe", "serve", "--port", "0"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )
        line = self.process.stdout.readline()
        found = re.search(r"http://127\.0\.0\.1:(\d+)/\?token=([\w-]+)", line)
        assert found, line + self.process.stderr.read()
        self.port, self.token = int(found.group(1)), found.group(2)
        self.url = f"http://127.0.0.1:{self.port}/?token={self.token}"
        self.origin = f"http://127.0.0.1:{self.port}"

    def request(self, method="GET", path=None, body=None, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        conn.request(method, path if path is not None else f"/?token={self.token}", body=body,
                     headers=headers or {})
        response = conn.getresponse()
        data = response.read().decode("utf-8", "replace")
        conn.close()
        return response.status, data

    def post(self, fields: dict, path=None, origin=None):
        body = urlencode(fields)
        return self.request("POST", path, body, {
            "Origin": origin or self.origin,
            "Content-Type": "application/x-www-form-urlencoded",
        })

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture(scope="module")
def server():
    s = Server()
    yield s
    s.stop()


# ------------------------------------------------------------------ refusals
def test_the_page_with_the_token_is_served(server):
    status, text = server.request()
    assert status == 200
    assert "<math" in text and '<svg class="drawing"' in text


def test_no_token_is_refused(server):
    status, text = server.request(path="/")
    assert status == 403 and "token" in text and "<math" not in text


def test_a_wrong_token_is_refused(server):
    status, _ = server.request(path="/?token=" + "x" * len(server.token))
    assert status == 403


def test_a_foreign_host_is_refused(server):
    # DNS rebinding: a page of evil.example resolving its name to 127.0.0.1
    status, text = server.request(headers={"Host": f"evil.example:{server.port}"})
    assert status == 403 and "own address" in text
    assert server.request(headers={"Host": f"localhost:{server.port}"})[0] == 200


def test_a_post_from_another_origin_is_refused(server):
    status, text = server.post({"net": NET, "action": "verify"}, origin="http://evil.example")
    assert status == 403 and "<math" not in text


def test_a_post_without_origin_is_refused(server):
    status, _ = server.request("POST", body=urlencode({"net": NET}),
                               headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 403


def test_a_get_cannot_run_a_check(server):
    status, text = server.request(path=f"/?token={server.token}&action=verify&net={NET}")
    assert status == 200 and 'id="verify-verdict"' not in text


def test_an_oversized_form_is_refused_unread(server):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.putrequest("POST", f"/?token={server.token}")
    conn.putheader("Origin", server.origin)
    conn.putheader("Content-Type", "application/x-www-form-urlencoded")
    conn.putheader("Content-Length", str(100 * 1024 * 1024))
    conn.endheaders()
    response = conn.getresponse()
    assert response.status == 413
    conn.close()


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize("fields,message", [
    ({"net": "1-2:relu:nonsense"}, "nonsense"),
    ({"net": "/etc/passwd"}, "etc"),
    ({"net": "x = [" * 40 + "1" + "]" * 40}, "nested"),
    ({"net": "1-" * 1200 + "1:relu:mse"}, "1,000"),
    ({"net": NET, "action": "formula", "formula": "dW2 = __import__('os')"}, "formula"),
    ({"net": NET, "action": "formula", "formula": "dW2 = " + "+".join(["R1"] * 600)},
     "characters"),
    ({"net": NET, "action": "code", "code": "x = 1\n" * 50000, "func": "backward"},
     "characters long"),
    ({"net": NET, "action": "code", "code": RIGHT_CODE, "func": "os.system('x')"}, "NAME"),
    ({"net": NET, "action": "code", "code": "def backward(:\n", "func": "backward"},
     "pasted code"),
])
def test_bad_input_is_a_message_not_a_trace(server, fields, message):
    status, text = server.post(fields)
    assert status == 200
    found = re.search(r'<p id="message"[^>]*>(.*?)</p>', text, re.DOTALL)
    assert found, text[:3000]
    assert message in found.group(1)
    assert "Traceback" not in text and "/tmp/gradscribe-page-" not in text


def test_a_file_path_is_never_read(server, tmp_path):
    spec = tmp_path / "net.toml"
    spec.write_text('inputs = 2\nloss = "mse"\n[[layer]]\nunits = 1\nactivation = "identity"\n')
    _, text = server.post({"net": str(spec)})
    assert 'id="message"' in text and "<math" not in text


# ------------------------------------------------------------------ checks
def test_a_wrong_formula_gets_its_diagnosis(server):
    _, text = server.post({"net": NET, "action": "formula", "formula": "dW2 = D2 @ R1.T / 2"})
    verdict = re.search(r'<div id="formula-verdict" class="verdict bad">(.*?)</div>\n</fieldset>',
                        text, re.DOTALL)
    assert verdict, text[:2000]
    assert "WRONG: dW2" in verdict.group(1) and "factor" in verdict.group(1).lower()


def test_right_code_is_all_right(server):
    _, text = server.post({"net": NET, "action": "code", "code": RIGHT_CODE,
                                "func": "backward"})
    assert re.search(r'id="code-verdict" class="verdict good">\s*<strong>all right</strong>', text)


@pytest.mark.parametrize("code,said", [
    ("import os\ndef backward(params, X, T):\n    os._exit(3)\n", "FAILED"),
    ("import ctypes\ndef backward(params, X, T):\n    ctypes.string_at(0)\n", "FAILED"),
    ("def backward(params, X, T):\n    while True:\n        print('x' * 10000)\n", "FAILED"),
])
def test_the_server_survives_a_func_that_crashes_or_floods(server, code, said):
    status, text = server.post({"net": NET, "action": "code", "code": code, "func": "backward"},
                               )
    assert status == 200
    assert re.search(rf'id="code-verdict" class="verdict bad">\s*<strong>{said}', text), text[-3000:]
    assert server.request()[0] == 200  # still serving


def test_a_hanging_func_is_stopped_at_the_timeout():
    form = page.Form(net=NET, code="import time\ndef backward(params, X, T):\n    time.sleep(600)\n",
                     func="backward")
    start = time.monotonic()
    view = page.answer(form, "code", "t", threading.Lock(), timeout=3)
    assert time.monotonic() - start < 60
    assert view.code is not None and not view.code.ok
    assert "FAILED" in view.code.headline and "3" in view.code.headline
    assert page._FOLDERS == set()


def test_one_check_at_a_time():
    busy = threading.Lock()
    busy.acquire()
    view = page.answer(page.Form(net=NET, formula="dW2 = D2 @ R1.T"), "formula", "t", busy)
    assert view.formula is None and "another check" in view.message


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_stops_the_server_and_its_worker(tmp_path, stop):
    s = Server(tmp_path)
    try:
        hang = "import time\ndef backward(params, X, T):\n    time.sleep(600)\n"
        def submit():  # answered or cut off by Ctrl-C: either is fine here
            try:
                s.post({"net": NET, "action": "code", "code": hang, "func": "backward"})
            except OSError:
                pass

        thread = threading.Thread(target=submit, daemon=True)
        thread.start()
        workers = []
        for _ in range(200):  # the worker is forked from the server
            time.sleep(0.1)
            try:
                with open(f"/proc/{s.process.pid}/task/{s.process.pid}/children") as f:
                    workers = [int(p) for p in f.read().split()]
            except OSError:
                workers = []
            if not workers:
                workers = _children(s.process.pid)
            if workers:
                break
        assert workers, "no worker started"
        assert list(tmp_path.glob("gradscribe-page-*/backward.py"))  # the pasted code
        s.process.send_signal(stop)
        assert s.process.wait(timeout=20) == 0
        for pid in workers:
            assert not _alive(pid), f"worker {pid} left running"
        assert list(tmp_path.glob("gradscribe-page-*")) == []
    finally:
        s.stop()


def _children(pid: int) -> list[int]:
    out = []
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/children") as f:
                out += [int(p) for p in f.read().split()]
        except OSError:
            pass
    return out


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[-1][0] != "Z"
    except OSError:
        return False


# ------------------------------------------------------------------ the rest of the page
def test_verify_gives_its_verdict(server):
    _, text = server.post({"net": NET, "action": "verify"})
    assert re.search(r'id="verify-verdict" class="verdict good">\s*<strong>verified', text)


def test_a_pasted_spec_with_its_example(server):
    with open("tests/data/seed004.toml", encoding="utf-8") as f:
        spec = f.read()
    _, text = server.post({"net": spec, "lang": "ko"})
    assert "seed004" in text and "계산 예제" in text and 'id="message"' not in text
    # its [example] is written in its layout: another layout is a message, not a guess
    _, text = server.post({"net": spec, "layout": "row"})
    assert "[example]" in re.search(r'<p id="message"[^>]*>(.*?)</p>', text, re.DOTALL).group(1)


@pytest.mark.parametrize("what,name,starts", [
    ("tex", "net.tex", "% Generated by gradscribe"),
    ("md", "net.md", "<!-- Generated by gradscribe"),
    ("html", "net.html", "<!DOCTYPE html>"),
    ("kernel", "net.py", '"""'),
    ("kernel_textbook", "net_textbook.py", '"""'),
])
def test_downloads(server, what, name, starts):
    body = urlencode({"net": NET, "lang": "en"})
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    conn.request("POST", f"/download?token={server.token}&what={what}", body=body, headers={
        "Origin": server.origin, "Content-Type": "application/x-www-form-urlencoded"})
    response = conn.getresponse()
    text = response.read().decode()
    conn.close()
    assert response.status == 200
    assert response.getheader("Content-Disposition") == f'attachment; filename="{name}"'
    assert text.lstrip("#! \n").startswith(starts) or text.startswith(starts)
    from gradscribe.codegen.stamp import provenance

    assert provenance(text.encode()) == "generated"


def test_a_layers_code_on_the_page(server):
    code = ("import numpy as np\n\ndef relu_forward(x):\n    return np.maximum(x, 0), x\n\n"
            "def relu_backward(dout, cache):\n    return dout * (cache > 0)\n")
    _, text = server.post({"net": "layer:relu:3", "action": "code", "code": code,
                           "func": "relu_backward"})
    assert re.search(r'id="code-verdict" class="verdict good">\s*<strong>all right</strong>', text)
    _, text = server.post({"net": "layer:relu:3", "action": "code", "func": "relu_backward",
                           "code": code.replace("(cache > 0)", "(cache >= 0) * 2")})
    assert re.search(r'id="code-verdict" class="verdict bad">\s*<strong>WRONG', text)
