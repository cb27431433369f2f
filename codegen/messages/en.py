"""English, the default: every sentence of the write-ups (LaTeX and Markdown).

Fields in braces are filled by the view; text may hold inline math (`$...$`), which is the
same in every language. `loss_name.NAME` and `warning.NAME` entries are optional: without them
the registry's own English title and warning are used.
"""

MESSAGES = {
    # Title and opening paragraph.
    "title": "Back-propagation for {name}",
    "author": "derived by gradscribe {version}",
    "intro.network": "Network {net}, sizes {sizes}, in the {layout}.",
    "intro.symbols": (
        r"$N$ is the batch size; $\odot$ is the elementwise product and $\mathbf{1}$ the "
        "all-ones vector of length $N$."
    ),
    "intro.tags": "Every equation is tagged with the name the generated NumPy code uses.",
    "layout.column": (
        r"column layout: one sample per column, $G_l = W_l R_{l-1} + B_l \mathbf{1}^{\top}$"
    ),
    "layout.row": (
        r"row layout: one sample per row, $G_l = R_{l-1} W_l + \mathbf{1} B_l$ "
        "($B_l$ is a row vector, broadcast over the batch)"
    ),
    # The drawing of the network.
    "draw.title": "The network",
    "draw.input": "input",
    "draw.layer": "layer",
    "draw.units": "{n} units",
    "draw.targets": "targets",
    # Shapes.
    "shapes.title": "Shapes",
    "shapes.symbol": "symbol",
    "shapes.shape": "shape",
    "shapes.meaning": "meaning",
    "shape.X.column": "input, one sample per column",
    "shape.X.row": "input, one sample per row",
    "shape.W": "weights of layer {l}",
    "shape.B": "bias of layer {l}",
    "shape.G": "pre-activation of layer {l}",
    "shape.R": "output of layer {l}, {act}",
    "shape.P": "prediction, {p}",
    "shape.T": "targets",
    # Forward pass, loss, activations.
    "forward.title": "Forward pass",
    "loss.title": "Loss: {title}",
    "activations.title": "Activation derivatives used",
    "activations.layer": "Layer {layers}",
    "activations.layers": "Layers {layers}",
    "activations.with_r": "with $r = f(z)$",
    "activations.softmax": (
        "over each sample's units; its derivative enters only through the fused output error"
    ),
    # Backward pass.
    "backward.title": "Backward pass",
    "backward.intro": r"Write $\delta_l = \partial L / \partial G_l$; it has the shape of $G_l$.",
    "backward.output": "Output error",
    "backward.layer": "Layer {l}",
    "delta.fused": (
        "The {title} is fused with its {output} output: the derivative of the loss with "
        "respect to {g} simplifies to a multiple of $P - T${tail}"
    ),
    "delta.fused.softmax": " (each sample's targets sum to 1).",
    "delta.fused.end": ".",
    "delta.plain": (
        r"$\partial L / \partial P$ from the loss, times the output activation's derivative, "
        "elementwise."
    ),
    "expanded.title": "The last layers with the chain substituted",
    # Notes.
    "notes.title": "Notes",
    "notes.no_bias": "Layer {l} has no bias: G{l} has no B{l} term and there is no dB{l}.",
    "notes.warning": "Layer {l} uses {activation}: {warning}.",
    # The worked example.
    "example.title": "Worked example",
    "example.seeded": (
        "Small seeded values (the same on every run) for $X$, $T$ and the parameters; "
        "batch size $N = {batch}$."
    ),
    "example.table": "The numbers of the spec's {table} table; batch size $N = {batch}$.",
    "example.rounding": (
        "Each line evaluates the equation with the same tag at these numbers, rounded to 8 "
        "decimal places."
    ),
    "example.given": "Given",
    "example.forward": "Forward pass",
    "example.loss": "Loss",
    "example.backward": "Backward pass",
}
