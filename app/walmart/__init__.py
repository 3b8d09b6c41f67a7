"""Walmart's Marketplace API, read only: the order a customer writes about, beside the message.

``client`` signs in by client credentials and makes GET calls (nothing else: slawatch never
ships, cancels or refunds); ``token`` and ``orders`` read Walmart's answers into plain data (no
I/O); ``lookup`` finds an order by the number a thread has; ``repository`` and ``service`` keep
the copies and the API's health per mailbox; ``jobs`` fetch in the background (after a poll,
and for waiting threads) and ``opening`` waits a bounded time for a fresh copy when a person
opens a thread; ``variables`` gives the reply templates their order values.
"""
