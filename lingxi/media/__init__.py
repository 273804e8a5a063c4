"""Recognition models for media files: OCR for images (``ocr``) and speech recognition for audio (``asr``).

Both load their models on first use; ``Recognizers`` holds one of each for a library."""

from lingxi.media.recognizers import Recognizers

__all__ = ["Recognizers"]
