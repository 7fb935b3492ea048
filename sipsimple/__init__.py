"""sipsimple: a SIP SIMPLE client SDK with a notification-driven middleware API."""

__version__ = "0.1.0.dev0"
