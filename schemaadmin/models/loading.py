"""Model instances made from database rows without Model.__init__, for the product tables a page reads by the row."""

from __future__ import annotations

from functools import cache
from typing import Any, Self

from django.db import models
from django.db.models.base import ModelState
from django.db.models.signals import post_init, pre_init

__all__ = ["ReadFastModel"]


class ReadFastModel(models.Model):
    """A model whose rows read from the database become instances without Model.__init__ (Model.from_db, which
    Django lets a model override).

    __init__ is written for instances made by hand (keyword arguments, defaults, related objects): reading a search
    page's 50 hits with their conversations and users (150 instances) took 2.1 ms through it, 1.6 ms without it
    (the statement included, on the 10M-message bench database). Here a row's values go straight to the instance's
    attributes, as __init__ does with positional values: the state, deferred fields (left unset, read on access),
    the fetch mode and the init signals (when a receiver listens, Django's own from_db runs) are as Django makes
    them. tests/models/test_loading.py compares both.
    """

    class Meta:
        abstract = True

    @classmethod
    def from_db(cls, db: str | None, field_names: Any, values: Any, *, fetch_mode: Any = None) -> Self:
        # Any receiver at all is rare (Django connects one for a model with an ImageField): asked per model only then.
        if (pre_init.receivers or post_init.receivers) and (
            pre_init.has_listeners(cls) or post_init.has_listeners(cls)
        ):
            return super().from_db(db, field_names, values, fetch_mode=fetch_mode)
        new = cls.__new__(cls)
        state = new._state = ModelState()
        state.adding = False
        state.db = db
        if fetch_mode is not None:
            state.fetch_mode = fetch_mode
        attnames = _attnames(cls)
        if len(values) == len(attnames):
            new.__dict__.update(zip(attnames, values, strict=True))
        else:  # deferred fields: only those read are set, in the model's order, as Django's from_db pads them
            read = iter(values)
            new.__dict__.update((name, next(read)) for name in attnames if name in field_names)
        return new


@cache
def _attnames(model: type[models.Model]) -> tuple[str, ...]:
    """Return the attribute names of the model's concrete fields, in order (what a full row holds)."""
    return tuple(field.attname for field in model._meta.concrete_fields)
