"""The bundled synthetic deliveries and the publication's reference figures (package data)."""
