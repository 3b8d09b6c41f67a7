"""Reading a /metrics scrape as Prometheus would."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families


def exposed_names(scrape: str) -> set[str]:
    """The series names a Prometheus scraping this text can query.

    A labelled counter or histogram with no children yet is listed (HELP and TYPE) with no
    samples, so names come from the families: the parser gives a counter's family without its
    ``_total``, and a histogram's series are its ``_bucket``, ``_sum`` and ``_count``."""
    names: set[str] = set()
    for family in text_string_to_metric_families(scrape):
        names.update(sample.name for sample in family.samples)
        if family.type == "counter":
            names.add(f"{family.name}_total")
        elif family.type == "histogram":
            names.update(f"{family.name}{suffix}" for suffix in ("_bucket", "_sum", "_count"))
        else:
            names.add(family.name)
    return names
