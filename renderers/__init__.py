"""Pure functions from settings (and topology) to the text of every file a service reads."""
