"""Layer 3: the engine. The comparison run (:mod:`.run`: cache, local models
on the calling thread, API models in threads, the Comparison) and its
manifest (:mod:`.manifest`), results and comparisons (with their HTML
report), the response cache, the model cache with its memory budget,
pricing, and the context every backend is handed. Imports only the catalog
and core: the session hands in the backends and the model loader."""
