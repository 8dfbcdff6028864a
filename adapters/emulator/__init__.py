"""A loopback Bybit-v5 emulator: REST and WebSockets over the simulated exchange, for tests."""
