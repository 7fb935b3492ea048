"""The SIP stack: messages, URIs, headers, transports, transactions, dialogs, authentication."""
