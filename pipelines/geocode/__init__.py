"""geocode."""
