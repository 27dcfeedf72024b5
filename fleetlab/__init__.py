"""Fleetlab: Fleetpost's development tools, never imported by the product.

It runs Fleetpost as real processes for the tests and the chaos script, and carries the
benchmark harness (`manage.py bench`, installed with DEV_TOOLS). It imports the product; the
product (posting, devices, retries, config) does not import it.
"""
