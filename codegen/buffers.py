"""The temporaries of a fast kernel's workspace: named arrays reused from one statement to the next.

`KernelPrinter` (codegen/numpy_printer.py) takes a temporary from a `TempPool` for every
intermediate value that an in-place call cannot compute into its own `out` array; the kernel
view lists the pool's buffers in the module's `make_workspace`.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Buffer:
    """A workspace array: its name, NumPy shape text (in N) and whether it holds booleans."""

    name: str
    shape: str
    boolean: bool = False


@dataclass
class TempPool:
    """Temporaries, reused from one statement to the next when shape and kind agree."""

    prefix: str = "_t"
    buffers: list[Buffer] = field(default_factory=list)
    busy: set[str] = field(default_factory=set)
    pinned: set[str] = field(default_factory=set)

    def take(self, shape: str, boolean: bool = False) -> str:
        for buf in self.buffers:
            if buf.name not in self.busy and buf.shape == shape and buf.boolean == boolean:
                self.busy.add(buf.name)
                return buf.name
        buf = Buffer(f"{self.prefix}{len(self.buffers)}", shape, boolean)
        self.buffers.append(buf)
        self.busy.add(buf.name)
        return buf.name

    def release(self) -> None:
        """Free every temporary but the pinned ones."""
        self.busy = set(self.pinned)

    def pin(self) -> None:
        """Keep the busy temporaries busy until `unpin` (their values are read later on)."""
        self.pinned = set(self.busy)

    def unpin(self) -> None:
        self.pinned = set()
        self.busy.clear()
