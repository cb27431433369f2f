"""The isolated worker process of `check --python`: `runner` starts and bounds it (time,
memory, output), `child` is the process itself (imports FILE, runs FUNC on the draws it is
sent), `wire` the messages between them (arrays as .npy, never pickled results)."""
