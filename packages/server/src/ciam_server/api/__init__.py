"""The HTTP surface: routes, client authentication, error responses, OpenAPI documentation."""
