"""The squash of squashed_migrations with the migrations it replaces deleted: the end of a squash's life."""
