"""``sipsimple.core`` re-exports the core's public names, as the reference SDK's core does."""

from __future__ import annotations

import sipsimple.core as core
from sipsimple.core.primitives import Message, Publication, Registration, Request


def test_every_name_in_all_is_importable_and_the_primitives_are_the_same_classes():
    missing = [name for name in core.__all__ if not hasattr(core, name)]
    assert missing == []
    assert (core.Request, core.Message, core.Registration, core.Publication) == (
        Request,
        Message,
        Registration,
        Publication,
    )


def test_every_header_class_has_its_frozen_variant_exported():
    headers = [
        name for name in core.__all__ if name.endswith("Header") and not name.startswith(("Frozen", "Base"))
    ]
    assert len(headers) >= 20
    assert [name for name in headers if f"Frozen{name}" not in core.__all__] == []


def test_the_invalid_state_error_is_a_core_error():
    assert issubclass(core.SIPCoreInvalidStateError, core.SIPCoreError)
    assert {"Engine", "SIPURI", "FrozenSIPURI", "Credentials", "FrozenCredentials"} <= set(core.__all__)
