"""What the database is doing: query statistics over time and live activity."""
