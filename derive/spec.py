"""Network specs: the TOML file of the contract and the inline `SIZES:ACTIVATIONS:LOSS[:LAYOUT]` form.

Both are validated into an immutable `Network`. Every problem raises `SpecError` with one line
that names the source and the field, e.g. ``net.toml: layer[2].activation: unknown activation 'rleu'``.
"""

from __future__ import annotations

import hashlib
import keyword
import math
import re
import reprlib
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path

import sympy as sp

try:  # Python 3.11+
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib

from . import activations, losses
from .errors import SpecError, one_line, show_path, show_text
from .limits import MAX_LAYERS, MAX_NESTING, MAX_SPEC_BYTES, MAX_UNITS

LAYOUTS = ("column", "row")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_TOP_KEYS = {"name", "layout", "inputs", "loss", "reduction", "layer", "example"}
#: A worked example prints every matrix: at most this many units per layer and samples.
MAX_EXAMPLE_WIDTH = 8
_LAYER_KEYS = {"units", "activation", "alpha", "bias"}
REDUCTIONS = ("mean", "sum")


@dataclass(frozen=True)
class Layer:
    """One layer: a linear map to `units` outputs (plus a bias B_l unless `bias` is False),
    then `activation` (alpha if it takes one)."""

    units: int
    activation: str
    alpha: sp.Rational | None = None
    bias: bool = True

    @property
    def act(self) -> activations.Activation:
        return activations.get(self.activation)


@dataclass(frozen=True)
class Example:
    """The `[example]` table: exact numbers (SymPy rationals) in the chain's matrix shapes.

    `values` maps X, T and, unless `seeded`, every W_l and B_l to an immutable SymPy matrix
    shaped like the derivation's symbol (a row-layout bias is a 1 x n_l row).
    """

    values: tuple[tuple[str, sp.ImmutableMatrix], ...]

    def __getitem__(self, name: str) -> sp.ImmutableMatrix:
        return dict(self.values)[name]

    def __contains__(self, name: str) -> bool:
        return name in dict(self.values)

    @property
    def seeded(self) -> bool:
        """True when the table gives only X and T (the parameters are then seeded)."""
        return "W1" not in self


@dataclass(frozen=True)
class Network:
    """A validated network: the layer chain, its loss, layout and name."""

    name: str
    layout: str
    inputs: int
    layers: tuple[Layer, ...]
    loss: str
    source: str = field(default="<spec>", compare=False)
    example: Example | None = field(default=None, compare=False)

    @property
    def depth(self) -> int:
        return len(self.layers)

    @property
    def sizes(self) -> tuple[int, ...]:
        """(n_0, n_1, ..., n_L)."""
        return (self.inputs,) + tuple(layer.units for layer in self.layers)

    @property
    def activations(self) -> tuple[str, ...]:
        return tuple(layer.activation for layer in self.layers)

    @property
    def loss_def(self) -> losses.Loss:
        return losses.get(self.loss)

    def has_bias(self, index: int) -> bool:
        """Whether layer `index` (1-based) has a bias B_l."""
        return self.layers[index - 1].bias

    def param_names(self) -> list[str]:
        """The parameter names in order: W1, B1, W2, ... (no B_l for a layer without bias)."""
        return [
            name
            for l in range(1, self.depth + 1)
            for name in (f"W{l}", f"B{l}")
            if name[0] == "W" or self.has_bias(l)
        ]

    def inline(self) -> str:
        """The network in the inline form of the command line.

        Layers without bias have no inline spelling; they are named after it in parentheses,
        e.g. `2-3-1:relu,identity:sse:column (no bias in layer 1)`.
        """
        acts = ",".join(
            layer.activation + (f"@{format_number(layer.alpha)}" if layer.alpha is not None else "")
            for layer in self.layers
        )
        text = f"{'-'.join(map(str, self.sizes))}:{acts}:{self.loss}:{self.layout}"
        no_bias = [str(l) for l, layer in enumerate(self.layers, start=1) if not layer.bias]
        if no_bias:
            text += f" (no bias in layer{'s' if len(no_bias) > 1 else ''} {', '.join(no_bias)})"
        return text

    def to_toml(self) -> str:
        """The network as a canonical TOML spec (what `digest` hashes)."""
        lines = [
            f'name = "{self.name}"',
            f'layout = "{self.layout}"',
            f"inputs = {self.inputs}",
            f'loss = "{self.loss_def.base}"',
        ]
        if self.loss_def.reduction == "sum":
            lines.append('reduction = "sum"')
        for layer in self.layers:
            lines += ["", "[[layer]]", f"units = {layer.units}", f'activation = "{layer.activation}"']
            if layer.alpha is not None:
                lines.append(f"alpha = {format_number(layer.alpha)}")
            if not layer.bias:
                lines.append("bias = false")
        return "\n".join(lines) + "\n"

    def digest(self) -> str:
        """sha256 of the canonical TOML form: the same network always hashes the same."""
        return hashlib.sha256(self.to_toml().encode()).hexdigest()

    def alpha_of(self, index: int) -> sp.Rational | None:
        """The alpha layer `index` (1-based) uses: the spec's, else its activation's default."""
        layer = self.layers[index - 1]
        return layer.alpha if layer.alpha is not None else layer.act.default_alpha


def format_number(value: sp.Rational) -> str:
    """A short decimal for an alpha that came from a decimal literal (1/5 -> '0.2')."""
    as_float = float(value)
    text = repr(as_float)
    return text.removesuffix(".0")


# ------------------------------------------------------------------------------- loading


def load(arg: str):
    """A network from a command-line NET argument: a `.toml` path, or the inline form; or one
    layer, `layer:KIND:SIZES[:LAYOUT]` (a `layers.LayerSpec`, contract section 8)."""
    if arg.startswith("layer:"):
        from .layers import parse_layer

        return parse_layer(arg)
    if arg.endswith(".toml") or _is_file(arg):
        return load_file(arg)
    return parse_inline(arg)


def _is_file(arg: str) -> bool:
    try:
        return Path(arg).is_file()
    except (OSError, ValueError):  # too long or not a possible path: an inline network
        return False


def load_file(path: str | Path) -> Network:
    """A network from a TOML spec file, reading at most MAX_SPEC_BYTES of it."""
    path = Path(path)
    source = show_path(path)
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_SPEC_BYTES + 1)
    except FileNotFoundError:
        raise SpecError(f"{source}: no such spec file") from None
    except OSError as exc:
        raise SpecError(f"{source}: cannot read spec file ({exc.strerror or type(exc).__name__})") from None
    except ValueError:  # a NUL character in the path
        raise SpecError(f"{source}: not a possible file name") from None
    if len(raw) > MAX_SPEC_BYTES:
        raise SpecError(
            f"{source}: larger than the {MAX_SPEC_BYTES:,} bytes a spec file may have"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(f"{source}: not UTF-8 text (byte {exc.start})") from None
    return parse_toml(text, source)


def parse_toml(text: str, source: str = "<spec>") -> Network:
    """Validate a TOML spec's text; `source` names it in error messages."""
    if len(text) > MAX_SPEC_BYTES:
        raise SpecError(f"{source}: larger than the {MAX_SPEC_BYTES:,} bytes a spec file may have")
    depth = nesting(text)
    if depth > MAX_NESTING:
        raise SpecError(
            f"{source}: arrays or tables nested {depth} deep, more than the {MAX_NESTING} "
            "levels a spec file may have"
        )
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{source}: malformed TOML: {one_line(str(exc))}") from None
    except ValueError:  # an integer literal past Python's limit on digits
        raise SpecError(
            f"{source}: a whole number with more than the {_MAX_DIGITS:,} digits "
            "Python reads"
        ) from None
    except RecursionError:  # a backstop: `nesting` already bounds the depth
        raise SpecError(f"{source}: nested too deeply to read") from None
    return from_dict(data, source)


_MAX_DIGITS = getattr(sys, "get_int_max_str_digits", lambda: 4300)()  # Python's limit for int()
_TOKENS = re.compile(
    r'"""(?:[^"\\]|\\.|"(?!""))*"""'  # multi-line basic string
    r"|'''.*?'''"  # multi-line literal string
    r'|"(?:[^"\\\n]|\\.)*"'  # basic string
    r"|'[^'\n]*'"  # literal string
    r"|#[^\n]*"  # comment
    r"|[\[\]{}]",  # brackets
    re.DOTALL,
)


def nesting(text: str) -> int:
    """How deep arrays and inline tables nest in TOML `text` (brackets in strings and comments
    do not count; a table header `[[layer]]` counts 2)."""
    depth = deepest = 0
    for match in _TOKENS.finditer(text):
        token = match.group()
        if token in ("[", "{"):
            depth += 1
            deepest = max(deepest, depth)
        elif token in ("]", "}"):
            depth = max(depth - 1, 0)
    return deepest


def from_dict(data: dict, source: str = "<spec>") -> Network:
    """Validate a spec already read into a dict (the shape of the TOML file)."""
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise SpecError(f"{source}: {unknown[0]}: unknown key (expected one of {_keys(_TOP_KEYS)})")
    for key in ("name", "inputs", "loss", "layer"):
        if key not in data:
            what = "at least one [[layer]] table" if key == "layer" else f"'{key}'"
            raise SpecError(f"{source}: {key}: missing (the spec needs {what})")
    name = _name(data["name"], source)
    layout = data.get("layout", "column")
    if layout not in LAYOUTS:
        raise SpecError(f"{source}: layout: must be \"column\" or \"row\", got {_show(layout)}")
    inputs = _units(data["inputs"], f"{source}: inputs")
    loss = _loss(data["loss"], data.get("reduction"), source)
    raw_layers = data["layer"]
    if not isinstance(raw_layers, list) or not raw_layers or not all(
        isinstance(entry, dict) for entry in raw_layers
    ):
        raise SpecError(f"{source}: layer: must be one or more [[layer]] tables")
    if len(raw_layers) > MAX_LAYERS:
        raise SpecError(
            f"{source}: layer: {len(raw_layers)} layers, more than the {MAX_LAYERS:,} a network may have"
        )
    layers = []
    for index, entry in enumerate(raw_layers, start=1):
        where = f"{source}: layer[{index}]"
        unknown = sorted(set(entry) - _LAYER_KEYS)
        if unknown:
            raise SpecError(
                f"{where}.{unknown[0]}: unknown key (expected one of {_keys(_LAYER_KEYS)})"
            )
        for key in ("units", "activation"):
            if key not in entry:
                raise SpecError(f"{where}.{key}: missing")
        units = _units(entry["units"], f"{where}.units")
        act = _activation(entry["activation"], f"{where}.activation")
        alpha = None
        if "alpha" in entry:
            alpha = _alpha(entry["alpha"], act, f"{where}.alpha")
        bias = entry.get("bias", True)
        if not isinstance(bias, bool):
            raise SpecError(f"{where}.bias: must be true or false, got {_show(bias)}")
        layers.append(Layer(units, act, alpha, bias))
    net = _checked(Network(name, layout, inputs, tuple(layers), loss, source))
    if "example" in data:
        net = replace(net, example=_example(data["example"], net))
    return net


def parse_inline(text: str) -> Network:
    """`SIZES:ACTIVATIONS:LOSS[:LAYOUT]`, e.g. `784-128-10:leaky_relu@0.2,softmax:cross_entropy:row`."""
    source = f"network {show_text(text)}"
    parts = text.split(":")
    if len(parts) not in (3, 4):
        raise SpecError(
            f"{source}: not a spec file (no such file) nor SIZES:ACTIVATIONS:LOSS[:LAYOUT], "
            "e.g. 1-8-4-1:relu,relu,identity:mse"
        )
    sizes_text, acts_text, loss = parts[:3]
    layout = parts[3] if len(parts) == 4 else "column"
    if layout not in LAYOUTS:
        raise SpecError(f"{source}: layout: must be column or row, got {show_text(layout)}")
    if loss not in losses.LOSSES:
        raise SpecError(
            f"{source}: loss: unknown loss {show_text(loss)} (known: {', '.join(losses.LOSSES)})"
        )
    size_texts = sizes_text.split("-")
    if len(size_texts) - 1 > MAX_LAYERS:
        raise SpecError(
            f"{source}: sizes: {len(size_texts) - 1} layers, more than the {MAX_LAYERS:,} a network may have"
        )
    sizes = []
    for index, size in enumerate(size_texts):
        digits = size.strip()
        if not re.fullmatch(r"[0-9]+", digits):
            raise SpecError(f"{source}: sizes: n_{index} is {show_text(size)}, not a whole number")
        digits = digits.lstrip("0") or "0"
        if len(digits) > len(str(MAX_UNITS)):  # before int(): no 4300-digit limit
            raise SpecError(
                f"{source}: sizes: n_{index} has {len(digits):,} digits, more than "
                f"the {MAX_UNITS} units gradscribe handles"
            )
        sizes.append(_units(int(digits), f"{source}: sizes: n_{index}"))
    if len(sizes) < 2:
        raise SpecError(f"{source}: sizes: need at least an input and an output size, like 2-1")
    acts = acts_text.split(",")
    if len(acts) != len(sizes) - 1:
        raise SpecError(
            f"{source}: activations: {len(sizes) - 1} layers need {len(sizes) - 1} "
            f"activations, got {len(acts)}"
        )
    layers = []
    for index, (units, item) in enumerate(zip(sizes[1:], acts), start=1):
        act_name, _, alpha_text = item.strip().partition("@")
        act = _activation(act_name, f"{source}: layer {index} activation")
        alpha = None
        if alpha_text:
            try:
                value = float(alpha_text)
            except ValueError:
                raise SpecError(
                    f"{source}: layer {index} alpha: {show_text(alpha_text)} is not a number"
                ) from None
            alpha = _alpha(value, act, f"{source}: layer {index} alpha")
        layers.append(Layer(units, act, alpha))
    return _checked(Network("net", layout, sizes[0], tuple(layers), loss, source))


# ------------------------------------------------------------------------------- checks


def _checked(net: Network) -> Network:
    """Rules that involve more than one field."""
    last = net.depth
    for index, layer in enumerate(net.layers, start=1):
        if layer.act.output_only and index != last:
            raise SpecError(
                f"{net.source}: layer[{index}].activation: {layer.activation} is allowed only "
                f"on the output layer (layer {last})"
            )
    loss = net.loss_def
    out = net.layers[-1].activation
    if loss.output is not None and out != loss.output:
        raise SpecError(
            f"{net.source}: loss: {loss.name} needs a {loss.output} output layer, "
            f"but layer {last} uses {out}"
        )
    if out == "softmax" and loss.output != "softmax":
        raise SpecError(
            f"{net.source}: layer[{last}].activation: softmax is supported only with "
            f"loss = \"cross_entropy\" (got {loss.name})"
        )
    return net


# ------------------------------------------------------------------------------- [example]


def example_shapes(net: Network, batch: int) -> dict[str, tuple[int, ...]]:
    """The shape each `[example]` key is written in (a row-layout bias is a flat list)."""
    column = net.layout == "column"
    sizes = net.sizes
    shapes = {
        "X": (sizes[0], batch) if column else (batch, sizes[0]),
        "T": (sizes[-1], batch) if column else (batch, sizes[-1]),
    }
    for l in range(1, net.depth + 1):
        shapes[f"W{l}"] = (sizes[l], sizes[l - 1]) if column else (sizes[l - 1], sizes[l])
        if has_bias(net, l):
            shapes[f"B{l}"] = (sizes[l], 1) if column else (sizes[l],)
    return shapes


def has_bias(net: Network, index: int) -> bool:
    """Whether layer `index` (1-based) has a bias B_l."""
    return getattr(net.layers[index - 1], "bias", True)


def check_example_size(net: Network, batch: int, where: str) -> None:
    """A worked example prints every matrix: refuse networks or batches too wide to print."""
    for index, size in enumerate(net.sizes):
        if size > MAX_EXAMPLE_WIDTH:
            raise SpecError(
                f"{where}: n_{index} = {size} is too wide to print a worked example "
                f"(at most {MAX_EXAMPLE_WIDTH} units per layer)"
            )
    if batch > MAX_EXAMPLE_WIDTH:
        raise SpecError(
            f"{where}: a batch of {batch} samples is too wide to print "
            f"(at most {MAX_EXAMPLE_WIDTH})"
        )


def _example(raw, net: Network) -> Example:
    """Validate the `[example]` table against the network's layout and sizes."""
    where = f"{net.source}: example"
    if not isinstance(raw, dict):
        raise SpecError(f"{where}: must be a table, [example]")
    for key in ("X", "T"):
        if key not in raw:
            raise SpecError(f"{where}.{key}: missing (the example needs X and T)")
    batch = _batch(raw["X"], net, f"{where}.X")
    check_example_size(net, batch, where)
    shapes = example_shapes(net, batch)
    unknown = sorted(set(raw) - set(shapes))
    if unknown:
        raise SpecError(
            f"{where}.{unknown[0]}: unknown key (expected {', '.join(shapes)})"
        )
    params = [key for key in shapes if key not in ("X", "T")]
    given = [key for key in params if key in raw]
    if given and len(given) != len(params):
        missing = next(key for key in params if key not in raw)
        raise SpecError(
            f"{where}.{missing}: missing (give every W_l and B_l, or none for seeded values)"
        )
    values = []
    for key in ("X", "T", *given):
        matrix = _matrix(raw[key], shapes[key], net.layout, f"{where}.{key}")
        if len(shapes[key]) == 1:  # a row-layout bias: the chain's 1 x n_l row
            matrix = matrix.reshape(1, shapes[key][0])
        values.append((key, sp.ImmutableMatrix(matrix)))
    return Example(tuple(values))


def _batch(raw, net: Network, where: str) -> int:
    """N, read off X: its columns in the column layout, its rows in the row layout."""
    if not isinstance(raw, list) or not raw or not all(isinstance(r, list) for r in raw):
        raise SpecError(f"{where}: must be a nested array of numbers, one inner array per row")
    batch = len(raw[0]) if net.layout == "column" else len(raw)
    if batch == 0:
        raise SpecError(f"{where}: needs at least one sample")
    return batch


def _matrix(raw, shape: tuple[int, ...], layout: str, where: str) -> sp.Matrix:
    """A nested list of `shape` (or a flat list for a 1-d shape) as exact SymPy numbers."""
    expected = (
        f"{shape[0]} numbers" if len(shape) == 1
        else f"{shape[0]} rows of {shape[1]} number{'s' if shape[1] != 1 else ''}"
    )
    wanted = f"must be {expected} {_shape_text(shape)} in the {layout} layout"
    if len(shape) == 1:
        if not isinstance(raw, list) or len(raw) != shape[0] or any(isinstance(v, list) for v in raw):
            raise SpecError(f"{where}: {wanted}, got {_show(raw)}")
        return sp.Matrix([[_number(v, f"{where}[{j}]") for j, v in enumerate(raw)]])
    if (
        not isinstance(raw, list)
        or len(raw) != shape[0]
        or not all(isinstance(r, list) and len(r) == shape[1] for r in raw)
    ):
        raise SpecError(f"{where}: {wanted}, got {_show(raw)}")
    return sp.Matrix(
        [[_number(v, f"{where}[{i}][{j}]") for j, v in enumerate(r)] for i, r in enumerate(raw)]
    )


def _shape_text(shape: tuple[int, ...]) -> str:
    return f"({shape[0]},)" if len(shape) == 1 else f"({shape[0]}, {shape[1]})"


def _number(value, where: str) -> sp.Rational:
    """An exact rational from a TOML integer or float (the decimal as written)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SpecError(f"{where}: must be a number, got {_show(value)}")
    if isinstance(value, int):
        if abs(value) > 10**6:
            raise SpecError(f"{where}: {value} is larger than 1e6")
        return sp.Integer(value)
    if not math.isfinite(value) or abs(value) > 1e6:
        raise SpecError(f"{where}: must be a finite number up to 1e6 in size, got {value}")
    return sp.Rational(repr(value))


def _loss(value, reduction, source: str) -> str:
    """The registered loss name for a spec's `loss` and optional `reduction`."""
    if not isinstance(value, str) or value not in losses.LOSSES:
        raise SpecError(
            f"{source}: loss: unknown loss {_show(value)} (known: {', '.join(_base_losses())})"
        )
    if reduction is None:
        return value
    if not isinstance(reduction, str) or reduction not in REDUCTIONS:
        raise SpecError(f'{source}: reduction: must be "mean" or "sum", got {_show(reduction)}')
    loss = losses.get(value)
    if loss.reduction is None:
        summed = [name for name in _base_losses() if f"{name}@sum" in losses.LOSSES]
        raise SpecError(
            f"{source}: reduction: {value} has no reduction to choose (only "
            f"{' and '.join(summed)} take one; for summed squared errors use loss = \"sse\")"
        )
    if "@" in value:
        if reduction != loss.reduction:
            raise SpecError(
                f'{source}: reduction: "{reduction}" contradicts loss = "{value}"'
            )
        return value
    return value if reduction == "mean" else f"{value}@{reduction}"


def _base_losses() -> list[str]:
    return [name for name in losses.LOSSES if "@" not in name]


def _name(value, source: str) -> str:
    if not isinstance(value, str) or not _IDENTIFIER.match(value) or keyword.iskeyword(value):
        raise SpecError(
            f"{source}: name: {_show(value)} is not a Python identifier "
            "(ASCII letters, digits and _, not starting with a digit, not a keyword)"
        )
    return value


def _units(value, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError(f"{where}: must be a whole number, got {_show(value)}")
    if value <= 0:
        raise SpecError(f"{where}: must be at least 1, got {value}")
    if value > MAX_UNITS:
        raise SpecError(f"{where}: {value} is more than the {MAX_UNITS} units gradscribe handles")
    return value


def _activation(value, where: str) -> str:
    if not isinstance(value, str) or value not in activations.ACTIVATIONS:
        raise SpecError(
            f"{where}: unknown activation {_show(value)} "
            f"(known: {', '.join(activations.ACTIVATIONS)})"
        )
    return value


def _alpha(value, act_name: str, where: str) -> sp.Rational:
    act = activations.get(act_name)
    if not act.takes_alpha:
        raise SpecError(f"{where}: {act_name} takes no alpha")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SpecError(f"{where}: must be a number, got {_show(value)}")
    if not math.isfinite(value) or value <= 0 or value > 1000:
        raise SpecError(f"{where}: must be a positive number up to 1000, got {value}")
    return sp.Rational(repr(float(value)))


def _show(value) -> str:
    """A value from a spec, quoted on one line and shortened (repr escapes newlines)."""
    if isinstance(value, str):
        return show_text(value, 40)
    text = reprlib.repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _keys(keys) -> str:
    return ", ".join(sorted(keys))


DEFAULT_SPEC = """\
name = "height_mlp"
layout = "column"
inputs = 1
loss = "mse"

[[layer]]
units = 8
activation = "relu"

[[layer]]
units = 4
activation = "relu"

[[layer]]
units = 1
activation = "identity"
"""


def default_network() -> Network:
    """The embedded default network: the 1-8-4-1 height regression net of the contract."""
    return parse_toml(DEFAULT_SPEC, "<default network>")
