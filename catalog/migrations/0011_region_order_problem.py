"""Standing orders without the admin (issue 21, item 4): why an order cannot be cut.

``Region.order_problem`` holds the reason the kernel refused the order's region, and
``order_problem_at`` when it was found, so reconcile reports it once. The index on
products by (region, swath) serves the question a backfill asks of every swath: has it
a product of this order? Additions only: no existing row changes.
"""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('catalog', '0010_swath_lost_copy_problem'),
    ]

    operations = [
        migrations.AddField(
            model_name='region',
            name='order_problem',
            field=models.TextField(blank=True, db_default='', default=''),
        ),
        migrations.AddField(
            model_name='region',
            name='order_problem_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddIndex(
            model_name='product',
            index=models.Index(fields=['region', 'swath'], name='product_region_swath'),
        ),
    ]
