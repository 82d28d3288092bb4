"""The lake on disk: its layout, the one write transaction, its formats and its views database."""
