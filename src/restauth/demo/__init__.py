"""The bundled example server (``restauth demo`` or ``python -m restauth.demo``)."""
