"""E-mail: composing messages, the outbox of deliveries, the transports and the sender.

See docs/mail.md. Callers compose with `vcs.mail.compose.render()` and enqueue with
`vcs.mail.outbox.enqueue()`; the `send-outbox` job and `vcs outbox send` drain the outbox with
`vcs.mail.sender.Sender`.
"""
