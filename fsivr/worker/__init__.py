"""``fsivr worker``: the durable outbox of notifications (SMS, e-mail) and the processes that send it.

``serve`` only inserts rows (:mod:`fsivr.worker.notify`); workers claim, send, retry and give up on
them (:mod:`fsivr.worker.outbox`, :mod:`fsivr.worker.loop`). Below the engine and the nodes, above
the store.
"""
