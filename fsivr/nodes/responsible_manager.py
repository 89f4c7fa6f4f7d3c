"""responsible_manager: ring the employee responsible for this caller (CRM contact owner)."""

from __future__ import annotations

from fsivr import ringing
from fsivr.engine.call import Call, RingResult
from fsivr.engine.node import Node, Param
from fsivr.engine.registry import register


@register
class ResponsibleManager(Node):
    type = "responsible_manager"
    summary = ("find the caller among the contacts and ring their owner: SIP account first, the owner's "
               "mobile after a delay (at once if offline); optionally the backup owner")
    params = {
        "ring_timeout": Param(int, default=20, between=ringing.RING_SECONDS, unit="seconds",
                              doc="seconds each phone rings"),
        "mobile_after": Param(int, default=20, between=(0, 600), unit="seconds",
                              doc="seconds of ringing the SIP account before the mobile rings too"),
        "also_backup_owner": Param(bool, default=False, doc="then ring the backup owner the same way"),
    }
    outcomes = ("answered", "no_answer", "not_found")
    waits = True
    instant_outcomes = ("no_answer", "not_found")  # caller not in the contacts; owner offline with no mobile
    # The caller talked to someone; when the other side hangs up, ending the call is expected.
    ending_outcomes = ("answered",)

    def run(self, call: Call) -> str:
        directory = call.services.directory
        contact = directory.contact_for(call.caller)
        owner = directory.account(contact.owner) if contact is not None and contact.owner else None
        if contact is None or owner is None:
            return "not_found"
        call.vars.update(contact_name=contact.name or "", contact_owner=owner.user)
        people = [owner]
        backup = directory.account(contact.backup_owner) if contact.backup_owner else None
        if self.p["also_backup_owner"] and backup is not None and backup.user != owner.user:
            people.append(backup)
        resolver = ringing.resolver_for(call)
        ring_timeout, after = self.p["ring_timeout"], self.p["mobile_after"]
        for person in people:
            # Presence decides the plan, so it is asked for (sofia_contact) rather than discovered
            # by a failing bridge: offline → the mobile rings at once instead of after a delay.
            online = ringing.registered(call, person.user)
            mobile = person.mobile[0] if person.mobile else None
            legs: list[ringing.Leg] = []
            if online:
                # Keeps ringing while the mobile rings too (until the mobile's time is up).
                leg = resolver.account_leg(person, ring_timeout + (after if mobile else 0))
                if leg is not None:
                    legs.append(leg)
            if mobile:
                # leg_delay_start: FreeSWITCH starts this leg `after` seconds into the same
                # originate (switch_ivr_originate.c, per_channel_delay_start).
                leg = resolver.number_leg(mobile, ring_timeout, delay=after if online else 0,
                                          label=f"mobile:{person.user}")
                if leg is not None:
                    legs.append(leg)
            resolver.report(call, self.id)
            if not legs:
                call.last_ring = RingResult(ringing.FAILED, "USER_NOT_REGISTERED", f"sip:{person.user}")
                continue
            if ringing.ring(call, legs, "simultaneous", label=f"manager:{person.user}").outcome == ringing.ANSWERED:
                return "answered"
        return "no_answer"
