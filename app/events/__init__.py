"""Events: the outbox written with each change, webhook subscriptions and their delivery
worker, reminders (催办), and the calendar feed of a unit's deadlines."""
