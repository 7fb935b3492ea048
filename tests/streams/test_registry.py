"""The stream interface, registry and registrar."""

from __future__ import annotations

import pytest
from zope.interface.verify import verifyClass

from sipsimple.streams import IMediaStream, MediaStreamRegistrar, MediaStreamRegistry, MediaStreamRegistryBase
from tests.streams.fake import FakeStream


def test_the_fake_stream_implements_every_method_of_the_interface():
    assert verifyClass(IMediaStream, FakeStream)


def test_the_registrar_metaclass_registers_the_class_in_the_singleton():
    class Registered(FakeStream, metaclass=MediaStreamRegistrar):
        type = "registered"

    try:
        assert Registered in MediaStreamRegistry()
        assert IMediaStream.implementedBy(Registered)
        assert FakeStream not in MediaStreamRegistry()  # a plain class stays out
        assert MediaStreamRegistry() is MediaStreamRegistry()
    finally:
        MediaStreamRegistry().remove(Registered)


def test_the_registry_iterates_by_descending_priority_and_keeps_a_class_once():
    registry = MediaStreamRegistryBase()

    class Low(FakeStream):
        priority = 1

    class High(FakeStream):
        priority = 10

    for cls in (Low, High, FakeStream, High):
        registry.add(cls)
    assert list(registry) == [High, FakeStream, Low]


def test_a_class_without_a_type_is_an_abstract_base_and_is_not_registered():
    class Base(metaclass=MediaStreamRegistrar):
        type = None

    assert Base not in MediaStreamRegistry()


def test_adding_a_class_that_is_not_a_stream_is_refused():
    with pytest.raises(TypeError, match="does not implement IMediaStream"):
        MediaStreamRegistryBase().add(int)
