"""``fsivr worker``: the durable outbox of notifications (SMS, e-mail) and scheduled jobs (the
retention clean-up of recordings, :mod:`fsivr.worker.retention`), and the processes that run it.

``serve`` only inserts rows (:mod:`fsivr.worker.notify`); workers claim, send, retry and give up on
them (:mod:`fsivr.store.outbox`, :mod:`fsivr.worker.loop`). Nodes reach the Notifier through the
engine's Notify port (``call.services.notify``, wired in fsivr/app.py);
the worker itself uses the store (the outbox table's functions are fsivr/store/outbox.py, which
the engine's callbacks use too), the inbound ESL client, and of the engine only leaf modules: its
sandboxed templates (fsivr/engine/templates.py, for the SMS gateway's templates), the allowed hours
(fsivr/engine/hours.py, shared with the callback and queue nodes) and the job's variable names —
never the runner or nodes. Nothing below imports the worker (tests/test_layers.py).
"""
