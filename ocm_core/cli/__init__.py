"""`ocm-server` and `ocm-chat`; nothing else in ocm_core imports this package."""
