"""Event, outcome and replay producers for the customer churn use case."""
