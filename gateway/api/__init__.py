"""The GraphQL API (strawberry on FastAPI): queries, mutations and live subscriptions."""
