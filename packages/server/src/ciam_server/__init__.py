"""ciam-reset reference server: one-time codes by email or SMS, and password resets with them."""
