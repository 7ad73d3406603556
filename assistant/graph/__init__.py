"""The life graph: users, vendors, documents, commitments and the usage ledger. Owns all SQL."""
