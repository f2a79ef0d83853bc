"""One file per channel importance; every module here registers itself (edgecv.prune.importance)."""
