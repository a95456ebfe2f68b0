"""Ways of delivering codes and notices to users."""
