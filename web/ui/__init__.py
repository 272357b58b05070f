"""What pages are built from: templates, translations, formatting, charts."""
