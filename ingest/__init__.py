"""ingest/: file -> metadata -> catalog record -> upload.

The reading side (readers/, geoloc, timeparse, footprint, unwrap, inspect, synth) is
free of Django so that subset/ and hpc/ workers can reuse it; the pipeline, tasks and
commands use the catalog.
"""
