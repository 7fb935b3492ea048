"""A sipsimple process that tests drive over its stdin and stdout (``main.py``), and the test-side
driver for it (``driver.py``). See tests/session/test_two_process_sessions.py."""
