"""Swath fields STAC items show (constellation, processing level, relative orbit, cycle,
pass), and every existing row identified by eo.identify from what it kept of its
file: global attributes, file name, granule id (platform and instrument become the
STAC short names: "Aqua" -> "aqua", "S5P" -> "sentinel-5p").

Rows registered from a manifest have no attributes: their platform and instrument are
read as the manifest gave them. `manage.py reinspect` re-reads the files themselves.
The fill costs about 0.2 ms a row; stored STAC items are refreshed by
`manage.py refresh_stac_items` after the upgrade (their renderer changed too).
"""

from django.db import migrations, models

FIELDS = ["platform", "constellation", "instrument", "processing_level", "orbit",
          "relative_orbit", "orbit_cycle", "pass_number"]


def identify_rows(apps, schema_editor) -> None:
    from eo.attributes import flatten_attrs
    from eo.identify import identify

    Swath = apps.get_model("catalog", "Swath")
    if schema_editor.connection.vendor == "postgresql":
        # The stored-item triggers skip these writes: every item is re-rendered anyway,
        # since the item renderer changed with these fields (refresh_stac_items).
        schema_editor.execute("SET LOCAL swathstore.bulk_load = 'on'")
    last = 0
    while True:
        rows = list(Swath.objects.filter(pk__gt=last).order_by("pk").only(
            "pk", "attrs", "filename", "granule_id", *FIELDS)[:2000])
        if not rows:
            return
        for row in rows:
            stored = (row.attrs or {}).get("global_attrs") if isinstance(row.attrs, dict) else None
            attrs = flatten_attrs(stored) if isinstance(stored, dict) and stored else {
                k: v for k, v in (("platform", row.platform), ("instrument", row.instrument)) if v}
            found = identify(attrs, [row.filename, row.granule_id])
            row.platform = found.platform or row.platform
            row.constellation = found.constellation or ""
            row.instrument = found.instrument or row.instrument
            row.processing_level = found.processing_level or ""
            row.orbit = row.orbit or found.absolute_orbit
            row.relative_orbit = found.relative_orbit
            row.orbit_cycle = found.orbit_cycle
            row.pass_number = found.pass_number
        Swath.objects.bulk_update(rows, FIELDS, batch_size=1000)
        last = rows[-1].pk


class Migration(migrations.Migration):

    dependencies = [
        ('catalog', '0005_swath_footprint_warning'),
    ]

    operations = [
        migrations.AddField(
            model_name='swath',
            name='constellation',
            field=models.CharField(blank=True, db_default='', default='', max_length=50),
        ),
        migrations.AddField(
            model_name='swath',
            name='orbit_cycle',
            field=models.IntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='swath',
            name='pass_number',
            field=models.IntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='swath',
            name='processing_level',
            field=models.CharField(blank=True, db_default='', default='', max_length=16),
        ),
        migrations.AddField(
            model_name='swath',
            name='relative_orbit',
            field=models.IntegerField(blank=True, null=True),
        ),
        migrations.RunPython(identify_rows, migrations.RunPython.noop),
    ]
