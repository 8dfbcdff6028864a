"""The basis (cash-and-carry) strategy: long spot BTC, short coin-margined inverse quarterlies,
rolled before expiry (seeds 000–003, DESIGN §9)."""
