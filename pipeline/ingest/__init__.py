"""Lines -> typed, validated rows in the lake: parse, validate, settle duplicates, replay."""
