"""Tests for TimerConfig in sipsimple.core.sip.transaction._base: RFC 3261 Table 4 and RFC 6026."""

from __future__ import annotations

import math

import pytest

from sipsimple.core.sip.transaction import TimerConfig

# name -> (UDP value, TCP/TLS value) with the default T1=0.5, T2=4, T4=5; None = not used.
TABLE_4 = {
    "A": (0.5, None),
    "B": (32.0, 32.0),
    "D": (32.0, 0.0),
    "E": (0.5, None),
    "F": (32.0, 32.0),
    "G": (0.5, None),
    "H": (32.0, 32.0),
    "I": (5.0, 0.0),
    "J": (32.0, 0.0),
    "K": (5.0, 0.0),
    "L": (32.0, 32.0),
    "M": (32.0, 32.0),
    "trying": (0.2, 0.2),
}


@pytest.mark.parametrize("name", sorted(TABLE_4))
def test_default_timer_values_follow_table_4(name: str) -> None:
    """Each timer has the RFC 3261 Table 4 / RFC 6026 value on unreliable and reliable transports."""
    config = TimerConfig()
    assert (config.initial(name, reliable=False), config.initial(name, reliable=True)) == TABLE_4[name]


def test_derived_timers_scale_with_t1_and_t4() -> None:
    """B, F, H, J, L, M are 64*T1 and I, K are T4, so changing T1/T4 changes them; D stays as set."""
    config = TimerConfig(t1=1.0, t2=8.0, t4=2.0)
    for name in "BFHJLM":
        assert config.initial(name, reliable=False) == 64.0
    assert config.initial("I", reliable=False) == config.initial("K", reliable=False) == 2.0
    assert config.initial("A", reliable=False) == 1.0
    assert config.initial("D", reliable=False) == 32.0


def test_trying_timer_can_be_disabled() -> None:
    """trying=None means the INVITE server never sends 100 Trying by itself."""
    assert TimerConfig(trying=None).initial("trying", reliable=False) is None


@pytest.mark.parametrize(
    "kwargs",
    [
        {"t1": 0},
        {"t1": -1},
        {"t1": math.inf},
        {"t2": 0.1},  # below T1
        {"t4": -1},
        {"d": -0.5},
        {"trying": -0.1},
        {"d": math.nan},
    ],
)
def test_nonsense_timer_values_are_rejected(kwargs: dict[str, float]) -> None:
    """A non-positive T1, a T2 below T1, or a negative/NaN derived value raises ValueError."""
    with pytest.raises(ValueError):
        TimerConfig(**kwargs)


def test_unknown_timer_name_is_a_key_error() -> None:
    """Asking for a timer the RFC does not define is a programming error, not a silent None."""
    with pytest.raises(KeyError):
        TimerConfig().initial("C", reliable=False)
