"""HTTP plumbing below the routes: the raw ASGI dispatcher, connection guard, bodies, errors, auth, server."""
