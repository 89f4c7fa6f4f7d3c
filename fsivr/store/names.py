"""The rules for names and numbers that reach FreeSWITCH, defined once.

Bundle parsing (fsivr.scenario.bundle), the renderer (fsivr.render.conf) and the ringing code
(fsivr.ringing) all import these, so what an import accepts is exactly what can later be
dialled or rendered. It lives in ``store`` because every other package may depend on it.
"""

from __future__ import annotations

import re

#: An account user, extension or gateway name: what may appear in a dial string (``user/NAME``,
#: ``sofia/gateway/NAME/...``), an API command or a directory key. Anything else could smuggle
#: dial-string separators (``,`` ``|`` ``[`` ``{``), spaces or another endpoint in.
DIALABLE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}$")
#: A number that can be dialled through a gateway (forward targets, ``tel:``, mobiles, caller IDs).
DIALABLE_NUMBER = re.compile(r"^\+?[0-9*#]{1,32}$")
#: A bare dial target read as an external number (``+48600100200``) rather than a name.
EXTERNAL_NUMBER = re.compile(r"^\+?[0-9]{7,20}$")
#: A number (DID) routed to fsivr: rendered as an anchored, escaped regular expression in the
#: dialplan, so it may hold more than a dialable number (``*98``, ``sales.1``).
ROUTABLE_NUMBER = re.compile(r"^[A-Za-z0-9+*#_.-]{1,64}$")

#: Where an ``exit`` node sends a number's calls: ``EXTENSION`` or ``EXTENSION XML CONTEXT``. It is
#: the argument of ``transfer`` (sent over ESL and rendered into the dialplan), which FreeSWITCH
#: variable-expands (switch_core_session_exec), so ``${system(...)}`` or ``$${...}`` must never get
#: through: only these characters, no ``$``, ``{``, spaces beyond the one form.
EXIT_DESTINATION = re.compile(r"^[A-Za-z0-9_+*#.-]{1,64}( XML [A-Za-z0-9_.-]{1,64})?$")

#: A mod_callcenter queue name: an argument of ``callcenter_config`` (split on spaces, quotes
#: honoured: switch_separate_string) and of the ``callcenter`` application, and an XML attribute.
#: ``@`` is allowed for mod_callcenter's usual ``support@default`` form.
QUEUE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+@-]{0,199}$")

DIALABLE_NAME_RULE = "letters, digits and _ . + - (starting with a letter or digit, at most 64)"
DIALABLE_NUMBER_RULE = "digits, * and # (at most 32), optionally starting with +"
ROUTABLE_NUMBER_RULE = "letters, digits and + * # _ . - (at most 64), no spaces"
QUEUE_NAME_RULE = "letters, digits and _ . + @ - (starting with a letter or digit, at most 200)"
EXIT_DESTINATION_RULE = ("EXTENSION or EXTENSION XML CONTEXT (letters, digits and _ + * # . - in the extension, "
                         "letters, digits and _ . - in the context, at most 64 each)")


def exit_extension(destination: str) -> str:
    """The extension part of an exit destination (``200 XML default`` → ``200``)."""
    return destination.split(" ", 1)[0]
