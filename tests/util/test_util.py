"""sipsimple.util: markers, Singleton, Null, MultilingualText, ISOTimestamp, ExponentialTimer."""

from __future__ import annotations

import copy
import datetime
import pickle
import threading

import pytest
from twisted.internet.task import Clock

from sipsimple.notification import NotificationCenter
from sipsimple.util import All, Any, ExponentialTimer, ISOTimestamp, MultilingualText, Null, Singleton
from tests.support.notifications import NotificationRecorder


def test_markers_have_their_name_as_repr_survive_copies_and_pickling():
    assert repr(All) == "All" and repr(Any) == "Any"
    assert copy.deepcopy(Any) is Any
    assert pickle.loads(pickle.dumps(All)) is All
    with pytest.raises(TypeError):
        All()


def test_singleton_creates_one_instance_per_class_even_under_concurrency():
    class Service(metaclass=Singleton):
        created = 0

        def __init__(self):
            type(self).created += 1

    class SubService(Service):
        created = 0

    instances = []
    threads = [threading.Thread(target=lambda: instances.append(Service())) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(i) for i in instances}) == 1
    assert Service.created == 1
    assert SubService() is not Service() and SubService() is SubService()


def test_null_absorbs_everything_and_is_falsy():
    assert Null.anything(1, key=2).more["x"] is Null
    Null.attribute = 5
    assert not Null and len(Null) == 0 and list(Null) == []
    assert repr(Null) == "Null"
    assert pickle.loads(pickle.dumps(Null)) is Null


def test_multilingual_text_is_a_string_with_translations():
    text = MultilingualText("Away", fr="Absent", pt_BR="Ausente")
    assert text == "Away" and isinstance(text, str)
    assert text.get_translation("FR") == "Absent"
    assert text.get_translation("pt-br") == "Ausente"
    assert text.get_translation("de") == "Away"
    clone = pickle.loads(pickle.dumps(text))
    assert clone.get_translation("fr") == "Absent"
    assert "fr='Absent'" in repr(text)


def test_iso_timestamp_round_trips_through_its_string_form():
    stamp = ISOTimestamp(datetime.datetime(2026, 11, 28, 4, 22, 55, 123456, tzinfo=datetime.UTC))
    assert str(stamp) == "2026-11-28T04:22:55.123456+00:00"
    assert ISOTimestamp(str(stamp)) == stamp
    assert ISOTimestamp("2026-11-28T04:22:55Z") == stamp.replace(microsecond=0)
    assert pickle.loads(pickle.dumps(stamp)) == stamp


def test_iso_timestamp_makes_naive_datetimes_aware_and_rejects_garbage():
    assert ISOTimestamp(datetime.datetime(2020, 1, 1)).tzinfo is not None
    assert ISOTimestamp.now().tzinfo is not None
    with pytest.raises(ValueError, match="not-a-date"):
        ISOTimestamp("not-a-date")


def _timer(clock):
    recorder = NotificationRecorder()
    timer = ExponentialTimer(reactor=clock)
    NotificationCenter().add_observer(recorder, name="ExponentialTimerDidTimeout", sender=timer)
    return timer, recorder


def _expiry_times(clock, recorder, until):
    """The clock readings at which new expiries were seen, advancing in 0.5 s steps."""
    times, seen = [], len(recorder.notifications)
    while clock.seconds() < until:
        clock.advance(0.5)
        times.extend([clock.seconds()] * (len(recorder.notifications) - seen))
        seen = len(recorder.notifications)
    return times


def test_exponential_timer_doubles_its_interval():
    clock = Clock()
    timer, recorder = _timer(clock)
    timer.start(1)
    assert _expiry_times(clock, recorder, 16) == [1, 3, 7, 15]
    timer.stop()
    assert clock.getDelayedCalls() == []


def test_exponential_timer_immediate_iterations_and_time_limit():
    clock = Clock()
    timer, recorder = _timer(clock)
    timer.start(1, immediate=True, iterations=5, time_limit=3)
    clock.advance(0)
    assert len(recorder.notifications) == 1
    assert _expiry_times(clock, recorder, 30)[:4] == [1, 3, 6, 9]
    assert len(recorder.notifications) == 5
    assert not timer.active and clock.getDelayedCalls() == []


def test_exponential_timer_rejects_non_positive_intervals():
    with pytest.raises(ValueError):
        ExponentialTimer(reactor=Clock()).start(0)
