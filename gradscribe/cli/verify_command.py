"""`gradscribe verify NET [--json]`: the proof, reported per formula, then the generated kernel."""

from __future__ import annotations

import json

from ..check.verification import verify
from ..derive import spec
from ..derive.layers import LayerSpec
from .errors import UsageError


def run_verify(args) -> int:
    net = spec.load(args.net)
    for name in ("max_width", "batch", "points"):
        if getattr(args, name) < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be at least 1")
    if isinstance(net, LayerSpec):
        from ..derive.layer_proof import prove_layer

        result = prove_layer(net, max_width=args.max_width, batch=args.batch, points=args.points)
        print(json.dumps(result.to_json(), indent=2) if args.json else result.report())
        return 0 if result.ok else 1
    result = verify(net, max_width=args.max_width, batch=args.batch, points=args.points)
    print(json.dumps(result.to_json(), indent=2) if args.json else result.report())
    return 0 if result.ok else 1
