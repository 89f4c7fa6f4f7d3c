"""The call core: compiled scenarios, the node contract, the ``Call`` a node acts through, and the
runner that walks a call through a scenario (plus the caches that feed it: scenarios, directory).

Depends on the ESL transport (fsivr.esl) and the store (fsivr.store); knows no node type by name —
node types live in fsivr.nodes and register themselves here; ringing (fsivr.ringing) sits between
the two: nodes → ringing → engine.
"""
