"""One module per reproduced figure; importing this package registers them all."""
