"""Reads of the lake through its views: the report's data, the quarantine listing."""
