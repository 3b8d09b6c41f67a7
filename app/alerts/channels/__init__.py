"""Alerts to chat and webhook channels (``[[alerts.channels]]``) beside email: what each is sent
(payloads), sending it (posting), the deliveries' queries (repository), routing alerts to channels
(service), and the delivery job recording each outcome (jobs)."""
