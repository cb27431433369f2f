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
    "draw.dropout": "dropout",
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
    "shape.A": "output of layer {l}'s activation, {act}, before dropout",
    "shape.MU": "batch mean of $G_{{{l}}}$, per unit (batch norm)",
    "shape.VAR": "batch variance of $G_{{{l}}}$ (biased), per unit",
    "shape.GH": "normalized pre-activation of layer {l}",
    "shape.gamma": "batch-norm scale of layer {l} (starts at 1)",
    "shape.beta": "batch-norm shift of layer {l} (starts at 0)",
    "shape.Y": "input of layer {l}'s activation, $\\gamma_{{{l}}} \\odot \\hat{{G}}_{{{l}}} + \\beta_{{{l}}}$",
    "shape.M": "dropout mask of layer {l}: 1 keeps a unit, 0 drops it ($p = {p}$)",
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
    "notes.batch_norm": (
        "Layer {l} normalizes its batch ($\\varepsilon = {eps}$): $\\mu_{{{l}}}$ and "
        "$\\sigma^{{2}}_{{{l}}}$ are each unit's mean and biased variance over the batch, so "
        "every sample's $\\delta_{{{l}}}$ depends on the whole batch; $\\delta^{{Y}}_{{{l}}}$ is "
        "$\\partial L / \\partial Y_{{{l}}}$ and $\\delta^{{\\hat{{G}}}}_{{{l}}} = \\gamma_{{{l}}} "
        "\\odot \\delta^{{Y}}_{{{l}}}$. In evaluation mode the kernel uses running statistics "
        "instead (running = {momentum} running + (1 - {momentum}) batch)."
    ),
    "notes.batch_norm_bias": (
        "Layer {l} keeps its bias, but $\\partial L / \\partial B_{{{l}}} = 0$ exactly: adding "
        "$B_{{{l}}}$ to every sample moves the batch mean $\\mu_{{{l}}}$ by the same amount, "
        "so $\\hat{{G}}_{{{l}}}$, and with it the loss, do not depend on $B_{{{l}}}$ "
        "($\\beta_{{{l}}}$ does its work)."
    ),
    "notes.dropout": (
        "Layer {l} drops units with probability $p = {p}$ (inverted dropout): the mask "
        "$M_{{{l}}}$ is an input of the derivation, and the kept units are scaled by "
        "$1/(1 - p) = {scale}$, so the same mask and factor multiply the $\\delta$ below. "
        "In evaluation mode dropout is off."
    ),
    "notes.weight_decay": (
        "Weight decay $\\lambda = {lam}$: the loss adds $\\tfrac{{\\lambda}}{{2}} \\sum_l "
        "\\lVert W_l \\rVert_F^2$, so every $\\partial L / \\partial W_l$ gains $\\lambda W_l$ "
        "(PyTorch's weight decay); biases, $\\gamma$ and $\\beta$ are not penalized."
    ),
    "notes.l2": (
        "L2 penalty $\\lambda = {lam}$: the loss adds $\\lambda \\sum_l \\lVert W_l "
        "\\rVert_F^2$, so every $\\partial L / \\partial W_l$ gains $2 \\lambda W_l$ "
        "(reg * np.sum(W * W) in course code); biases, $\\gamma$ and $\\beta$ are not penalized."
    ),
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
    # One layer at a time (layer:KIND:SIZES).
    "layer.title": "One layer: {kind}",
    "layer.intro": "Layer {net}, sizes {sizes}, in the {layout}.",
    "layer.layout.row": "row layout: one sample per row",
    "layer.layout.column": "column layout: one sample per column",
    "layer.symbols": (
        r"$N$ is the batch size; $\odot$ is the elementwise product and $\mathbf{{1}}$ the "
        r"all-ones vector of length $N$. For any quantity $z$, $\mathrm{{d}}z$ stands for "
        r"$\partial L / \partial z$, where $L$ is the scalar the whole chain ends in."
    ),
    "layer.tags": "Every equation is tagged with the name the layer's code gives it (out, dx, dw, ...).",
    "layer.vjp.title": "Local gradients",
    "layer.vjp.intro": (
        r"The layer is given $\mathrm{{d}}\mathrm{{out}} = \partial L / \partial \mathrm{{out}}$ "
        "from the layer above. Each local gradient is the vector-Jacobian product of it: the "
        r"derivative of $\langle \mathrm{{d}}\mathrm{{out}}, \mathrm{{out}} \rangle = "
        r"\sum \mathrm{{d}}\mathrm{{out}} \odot \mathrm{{out}}$ with respect to the input or the "
        "parameter, which is what back-propagation chains."
    ),
    "layer.vjp.loss": (
        r"A loss ends the chain: $\mathrm{{d}}x = \partial L / \partial x$ is the derivative of "
        "the loss itself."
    ),
    "layer.loss.title": "Loss: {title}",
    "layer.activation": "The activation",
    "layer.shape.x": "input",
    "layer.shape.scores": "scores (the loss's input)",
    "layer.shape.w": "weights",
    "layer.shape.b": "bias",
    "layer.shape.out": "output",
    "layer.shape.dout": "upstream gradient",
    "layer.shape.mask": "the dropout mask (0 or 1)",
    "layer.shape.t": "targets",
    "layer.shape.p": "probabilities",
    "layer.shape.gamma": "scale",
    "layer.shape.beta": "shift",
    "layer.shape.mu": "the batch's mean per unit",
    "layer.shape.var": "the batch's (biased) variance per unit",
    "layer.shape.xhat": "the normalised input",
    "layer.shape.dxhat": "the gradient at the normalised input",
    "layer.note.dropout": (
        "Inverted dropout: each unit is kept with probability 1 - p = {keep} and scaled by "
        "1 / (1 - p). Code that does not scale at training time (it scales at test time "
        "instead) has the mask itself as the factor; the checker reads which from what the "
        "forward pass returned."
    ),
    "layer.note.batchnorm": (
        "Training mode: the mean and variance are the batch's own (the biased variance), "
        "epsilon = {eps}. The checker reads epsilon from the forward pass's output."
    ),
    "layer.note.labels": (
        "Code that takes integer class labels y of shape (N,) has t = the one-hot rows of y."
    ),
    "layer.example.seeded": (
        "Small seeded values (the same on every run) for every input; batch size $N = {batch}$."
    ),
    # The HTML write-up.
    "html.kernel.title": "Generated NumPy code",
    "html.kernel.intro": (
        "The module `gradscribe codegen` writes for this network (the fast style); "
        "its names are the equations' tags."
    ),
}
