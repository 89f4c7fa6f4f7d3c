"""Registers the emulated FreeSWITCH modules' applications and API commands with ``apps``.

Kept apart from apps.py / session.py so those stay small: each mod_* module exports
``APPLICATIONS`` (name → app) and ``API_COMMANDS`` (name → api handler); importing this module
(simulator.py does) merges them in.
"""

from __future__ import annotations

from fsivr.testing import apps, mod_callcenter, mod_record, mod_spandsp, mod_valet

MODULES = (mod_record, mod_valet, mod_spandsp, mod_callcenter)

for _mod in MODULES:
    apps.APPLICATIONS.update(_mod.APPLICATIONS)
    apps.API_COMMANDS.update(_mod.API_COMMANDS)
