"""The ESL transport: wire framing, the outbound-socket connection, the server, the inbound client.

Knows nothing of scenarios, nodes or the store; the engine sits on top of it.
"""
