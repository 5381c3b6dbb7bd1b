"""The bundled sample app that ``linesman demo`` serves."""
