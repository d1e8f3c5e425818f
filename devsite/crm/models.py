from django.db import models


class Account(models.Model):
    name = models.CharField(max_length=200)

    def __str__(self) -> str:
        return self.name


class Campaign(models.Model):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="crm_campaigns")
    name = models.CharField(max_length=200)

    def __str__(self) -> str:
        return self.name
