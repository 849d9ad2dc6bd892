"""Catalog SQL, one module per area and one public function per question."""
