"""The scenario engine: compiled scenarios, the node contract, and the runner that walks a call through them.

Depends on the ESL transport (fsivr.esl) and the store (fsivr.store); knows no node type by name —
node types live in fsivr.nodes and register themselves here.
"""
