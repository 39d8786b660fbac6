"""Live event feeds for GraphQL subscriptions: NATS core subscriptions fanned out to
bounded per-client queues."""
