"""Storage of the retail analytics: rollup refresh (plain PostgreSQL), the derived
journeys (both dialects), the reads the API runs over the aggregates, and the analytics
configuration's versions. The tables are in sql/migrations/0002_analytics.sql."""
