"""Exchange adapters behind one protocol: simulated (in-process), Bybit (testnet, mainnet)."""
