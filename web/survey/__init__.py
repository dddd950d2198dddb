"""The citizens' pages: a QR code's landing page, the web survey and counter kiosks (see routes)."""
