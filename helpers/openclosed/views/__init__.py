"""Layer 7, the top: widgets (ipywidgets) and plots (plotly). They only read
a Comparison or an Evaluation; no model logic lives here."""
