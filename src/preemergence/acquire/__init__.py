"""Real data: from the public SDO/HMI archive (JSOC) to a HEAR-like region store."""
