"""English, the default: the write-ups' prose as it has always read."""

MESSAGES = {
    # The drawing of the network.
    "draw.title": "The network",
    "draw.input": "input",
    "draw.layer": "layer",
    "draw.units": "{n} units",
    "draw.targets": "targets",
}
