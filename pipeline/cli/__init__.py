"""The `orusage` command line: thin click commands over the library."""
