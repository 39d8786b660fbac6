"""The identity service as other processes see it: its NATS request/reply protocol
(`protocol`), its error codes mapped to exceptions both ways (`errors`) and its client
(`client`). The service itself is the `identity` application."""
