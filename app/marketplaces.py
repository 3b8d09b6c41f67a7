"""Which addresses reach a buyer rather than the seller's team: the marketplaces' relays."""


def is_marketplace_relay(address: str) -> bool:
    """An address that reaches a buyer through a marketplace relay: never an alert recipient."""
    domain = address.rpartition("@")[2].lower()
    return (
        domain == "relay.walmart.com"
        or domain.endswith(".relay.walmart.com")
        or domain.endswith("marketplace.amazon.com")
    )
