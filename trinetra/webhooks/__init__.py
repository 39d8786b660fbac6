"""Signed webhooks, shared by the alert webhooks (analytics) and push-mode callbacks
(gateway): the signature scheme (`signature`) and one SSRF-checked attempt (`delivery`)."""
