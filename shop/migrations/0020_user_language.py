# The language a customer chose, for their pages after a new login and for their mails (issue 15, languages).

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('auth', '0012_alter_user_first_name_max_length'),
        ('shop', '0019_accounts_on_allauth'),
    ]

    operations = [
        migrations.CreateModel(
            name='UserLanguage',
            fields=[
                ('user', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='language', serialize=False, to=settings.AUTH_USER_MODEL)),
                ('code', models.CharField(max_length=8, verbose_name='language')),
            ],
        ),
    ]
