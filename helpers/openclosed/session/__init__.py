"""Layer 6: the session, what a notebook calls. ``setup``, ``compare`` and
``rerun``, ``load_model``, ``estimate`` and recorded answers. It puts the
tasks, the backends and the engine together; the views sit above it."""
