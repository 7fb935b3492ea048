"""IAudioPort: the role shared by everything an AudioBridge can connect, and its one notification."""

from __future__ import annotations

from zope.interface import Attribute, Interface

from sipsimple.notification import NotificationCenter, NotificationData

__all__ = ["IAudioPort", "post_slots_changed"]


class IAudioPort(Interface):
    """An object that owns up to two slots of an AudioMixer: one it hears through, one it speaks through.

    Either slot may be None (the object does not consume, or does not produce, audio at the moment)
    and either may change during the object's life; every change is announced with an
    ``AudioPortDidChangeSlots`` notification (see :func:`post_slots_changed`) so that the bridges
    holding the object can rewire it.
    """

    mixer = Attribute("The AudioMixer whose slots this object uses")
    consumer_slot = Attribute("The slot through which this object receives audio, or None")
    producer_slot = Attribute("The slot through which this object sends audio, or None")


def post_slots_changed(
    sender: object,
    old_consumer_slot: int | None,
    new_consumer_slot: int | None,
    old_producer_slot: int | None,
    new_producer_slot: int | None,
    notification_center: NotificationCenter | None = None,
) -> bool:
    """Posts ``AudioPortDidChangeSlots`` for ``sender`` if either slot changed; True if it did.

    The data always carries all six attributes of the reference: ``consumer_slot_changed`` and
    ``producer_slot_changed`` (bools) and the old and new slot of each side (equal when unchanged).
    """
    consumer_changed = old_consumer_slot != new_consumer_slot
    producer_changed = old_producer_slot != new_producer_slot
    if not (consumer_changed or producer_changed):
        return False
    data = NotificationData(
        consumer_slot_changed=consumer_changed,
        producer_slot_changed=producer_changed,
        old_consumer_slot=old_consumer_slot,
        new_consumer_slot=new_consumer_slot,
        old_producer_slot=old_producer_slot,
        new_producer_slot=new_producer_slot,
    )
    (notification_center or NotificationCenter()).post_notification("AudioPortDidChangeSlots", sender, data)
    return True
