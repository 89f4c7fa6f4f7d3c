"""``fsivr worker``: the durable outbox of notifications (SMS, e-mail) and scheduled jobs (the
retention clean-up of recordings, :mod:`fsivr.worker.retention`), and the processes that run it.

``serve`` only inserts rows (:mod:`fsivr.worker.notify`); workers claim, send, retry and give up on
them (:mod:`fsivr.worker.outbox`, :mod:`fsivr.worker.loop`). Nodes reach the Notifier through the
engine's Notify port (``call.services.notify``, wired in fsivr/app.py);
the worker itself uses the store, the inbound ESL client, and of the engine only its sandboxed
templates (fsivr/engine/templates.py, for the SMS gateway's templates) — never the runner or nodes.
"""
