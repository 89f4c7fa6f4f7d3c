"""mod_callcenter as fsivr keeps it: the queues, agents and tiers of the store as FreeSWITCH must
have them (``state``), the ``callcenter_config`` commands that get it there (``commands``), and the
service that keeps it there while FreeSWITCH runs (``sync``).

Dependency direction: ``engine → callcenter → esl, store`` — it talks to FreeSWITCH only through
the live event link (fsivr.esl.link) and reads the store; nodes and the engine may use it, it never
imports them.
"""
