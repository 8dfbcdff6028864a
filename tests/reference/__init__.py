"""Small pure-Python references of the Rust computations, used only by tests."""
