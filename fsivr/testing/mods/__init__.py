"""FreeSWITCH modules the simulator emulates beyond mod_dptools/mod_commands, one module each:
``callcenter`` (mod_callcenter), ``valet`` (mod_valet_parking), ``record`` (record /
record_session of mod_dptools + switch_ivr_async.c), ``spandsp`` (mod_spandsp's fax),
``sofia`` (registered phones, ``chat`` and ``sofia status``), and
``common`` (what they share: partner legs, uuid_bridge, hold music, events with extra headers).

Each module exports ``APPLICATIONS`` (name → application) and ``API_COMMANDS`` (name → API
function, see fsivr.testing.api); importing this package merges the applications into
``apps.APPLICATIONS``, and fsivr.testing.api takes ``API_COMMANDS`` into its one table.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fsivr.testing import apps
from fsivr.testing.mods import callcenter, record, sofia, spandsp, valet

if TYPE_CHECKING:
    from fsivr.testing.api import ApiFunc

MODULES = (record, valet, spandsp, callcenter, sofia)

API_COMMANDS: dict[str, ApiFunc] = {}
for _mod in MODULES:
    apps.APPLICATIONS.update(_mod.APPLICATIONS)
    API_COMMANDS.update(_mod.API_COMMANDS)
