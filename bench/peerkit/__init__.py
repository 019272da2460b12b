"""bench/peers.py's parts: peer installs, the resolver shim, the sandbox process, runs, tables."""
