from django.db import models


class Widget(models.Model):
    name = models.CharField(max_length=100)

    class Meta:
        indexes = [models.Index(fields=["name"], name="widget_name")]

    def __str__(self) -> str:
        return self.name
