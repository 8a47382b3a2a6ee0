"""Range queries over metrics at the resolution the range calls for."""
