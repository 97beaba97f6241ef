"""Widgets of the app: the layer form, the results view and the help screen."""
