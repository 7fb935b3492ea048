"""The demo's ``--to`` helpers that need no network: the proxy option, the local address chosen for
it, the sentence for each way a call fails, and the result line of a call to a remote peer."""

from __future__ import annotations

import pytest

from sipsimple.demo.caller import DemoError, Outcome, _split_proxy, failure_message, local_address_towards

TARGET, ACCOUNT = "sip:bob@example.test", "alice@example.test"


@pytest.mark.parametrize(
    ("proxy", "expected"),
    [
        ("127.0.0.1", ("127.0.0.1", None, "udp")),
        ("127.0.0.1:5080;transport=tcp", ("127.0.0.1", 5080, "tcp")),
        ("sip:proxy.example.test:5061;transport=TLS", ("proxy.example.test", 5061, "tls")),
        ("[::1]:5060;transport=udp", ("::1", 5060, "udp")),
        ("::1", ("::1", None, "udp")),
    ],
)
def test_the_proxy_option_gives_host_port_and_transport(proxy, expected):
    assert _split_proxy(proxy) == expected


def test_a_proxy_port_that_is_not_a_number_is_a_demo_error_not_a_traceback():
    with pytest.raises(DemoError, match="the port is not a number"):
        _split_proxy("127.0.0.1:sixty")


def test_the_local_address_is_the_one_that_reaches_the_proxy_and_none_for_a_name():
    assert local_address_towards("127.0.0.1") == "127.0.0.1"
    assert local_address_towards("proxy.example.test") is None
    assert local_address_towards(None) is None


@pytest.mark.parametrize(
    ("code", "reason", "password", "expected"),
    [
        (407, "Proxy Authentication Required", "x", "authentication failed: the server refused the credentials of alice@example.test (407 Proxy Authentication Required); check --account and --password"),
        (401, "Unauthorized", "x", "authentication failed: the server refused the credentials of alice@example.test (401 Unauthorized)"),
        (407, "Proxy Authentication Required", None, "the server asks for authentication (407 Proxy Authentication Required) and no --password was given for alice@example.test"),
        (404, "Not Found", "x", "sip:bob@example.test does not exist (404 Not Found)"),
        (486, "Busy Here", "x", "sip:bob@example.test is busy (486 Busy Here)"),
        (503, "Cannot reach tcp:127.0.0.1:1", "x", "sip:bob@example.test could not be reached (503 Cannot reach tcp:127.0.0.1:1): check --proxy"),
        (488, "Not Acceptable Here", "x", "none of the offered media (488 Not Acceptable Here): try --codec PCMU, or --no-srtp"),
        (500, "Server Internal Error", "x", "the call to sip:bob@example.test failed: 500 Server Internal Error"),
    ],
)  # fmt: skip
def test_each_failure_code_becomes_a_sentence_a_person_can_act_on(code, reason, password, expected):
    failure = {"code": code, "reason": reason, "failure_reason": f"{code} {reason}"}
    assert expected in failure_message(failure, TARGET, ACCOUNT, password)


def test_a_failure_without_a_response_code_gives_the_session_s_own_reason():
    failure = {"code": 0, "reason": None, "failure_reason": "TCP connection refused"}
    assert failure_message(failure, TARGET, ACCOUNT, "x") == (
        "the call to sip:bob@example.test failed: TCP connection refused"
    )


def test_the_remote_result_line_gives_our_rtp_figures_and_no_recording():
    outcome = Outcome(
        remote=True, codec="PCMU/8000", srtp=True, duration=4.25, lost=2, expected=200, sent=210,
        received=198, jitter=1.26, rtt=None, peer_lost=None, dtmf="123#",
    )  # fmt: skip
    assert outcome.line() == (
        "result: codec=PCMU/8000 srtp=yes duration=4.2s sent=210 received=198 lost=2/200 (1.0%) "
        "jitter=1.3ms rtt=- peer-lost=- dtmf-sent=123# quality=n/a"
    )
    outcome.rtt, outcome.peer_lost = 0.42, 0
    assert "rtt=0.4ms peer-lost=0 " in outcome.line()


def test_the_local_result_line_keeps_its_quality_and_recording_fields():
    outcome = Outcome(codec="G722/16000", srtp=True, duration=5.0, expected=241, dtmf="123#",
                      recording="/tmp/x.wav", correlation=0.9994, snr=35.04)  # fmt: skip
    assert outcome.line() == (
        "result: codec=G722/16000 srtp=yes duration=5.0s lost=0/241 (0.0%) dtmf=123# "
        "quality=correlation 0.999, SNR 35.0 dB recording=/tmp/x.wav"
    )


def test_the_sip_trace_file_gets_a_head_line_and_the_message_per_notification(tmp_path):
    from types import SimpleNamespace

    from sipsimple.demo.endpoint import SIPTraceWriter
    from sipsimple.notification import Notification, NotificationData

    writer = SIPTraceWriter(tmp_path / "trace.txt")
    data = NotificationData(
        received=False, source_ip="127.0.0.1", source_port=5060, destination_ip="127.0.0.2",
        destination_port=5070, transport="udp", data=b"OPTIONS sip:x SIP/2.0\r\nCSeq: 1 OPTIONS\r\n\r\n",
    )  # fmt: skip
    writer.handle_notification(Notification("SIPEngineSIPTrace", SimpleNamespace(), data))
    assert (tmp_path / "trace.txt").read_text() == (
        "SENT UDP 127.0.0.1:5060 -> 127.0.0.2:5070 (42 bytes)\nOPTIONS sip:x SIP/2.0\nCSeq: 1 OPTIONS\n\n"
    )
