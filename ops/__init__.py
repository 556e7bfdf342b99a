"""ops/: archive maintenance that spans the layers below (reconcile, fsck, cleanup, rebuild)."""
