"""Benchmarks of the generated kernels (not part of the installed package).

`python -m benchmarks` times, interleaved round by round in one process, the generated
kernel against textbook NumPy, PyTorch eager, JAX jit and the GEMM floor; see
`benchmarks/__main__.py`.
"""
