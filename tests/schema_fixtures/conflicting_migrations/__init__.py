"""The fixture app's migrations with two leaves, as two branches merged without makemigrations --merge."""
