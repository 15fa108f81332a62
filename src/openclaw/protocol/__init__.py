"""The gateway wire protocol, sans-I/O: frames in, frames and close decisions out.

Nothing in this package touches a socket or an event loop, so every rule of the
handshake and framing can be tested with plain function calls.
"""
