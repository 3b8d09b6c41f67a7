"""slawatch: keeps marketplace sellers inside their customer-message SLA."""

__version__ = "0.1.0"
