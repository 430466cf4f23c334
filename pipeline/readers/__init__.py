"""Product readers: decode fill values, valid ranges, scale and QC onto a region window."""
