"""DuckDB SQL models, shipped as package data: staging → intermediate → pooled marts (see README.md)."""
