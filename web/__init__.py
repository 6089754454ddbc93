"""HTTP side of the gateway: the inbound hook route, health, and the runtime that owns the parts."""
