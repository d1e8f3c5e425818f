from django.contrib import admin

from .models import Account, Campaign

admin.site.register(Account)
admin.site.register(Campaign)
