"""django-tables2 tables, one module per feature."""
