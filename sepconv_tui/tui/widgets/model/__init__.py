"""The Model tab's widgets, one module an area: form, progress, summary, table, charts; the
view composes them and renders the tab's ModelSession."""
