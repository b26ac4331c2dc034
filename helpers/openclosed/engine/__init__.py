"""Layer 3: the engine. Results and comparisons (with their HTML report),
the response cache, the model cache with its memory budget, pricing, and the
context every backend is handed. Imports only the catalog and core."""
