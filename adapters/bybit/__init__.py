"""The Bybit adapter (pybit, v5 unified API) for testnet and mainnet."""
