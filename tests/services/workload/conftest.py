from tests.planting import plant, planter  # noqa: F401
