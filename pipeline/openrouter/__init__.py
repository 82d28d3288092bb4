"""OpenRouter's APIs: fetching records (collect) and comparing totals (reconcile)."""
