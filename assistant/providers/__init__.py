"""Model providers: each maps the common request to its vendor's wire format and back."""
