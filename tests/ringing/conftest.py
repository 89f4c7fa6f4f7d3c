"""The ringing internals are exercised against the node tests' PBX (tests/nodes/conftest.py)."""

from nodes.conftest import PBX, dial_strings, legs, pbx

__all__ = ["PBX", "dial_strings", "legs", "pbx"]
