"""The child processes the app talks to (torch runs here, never in the app), and their messages."""
