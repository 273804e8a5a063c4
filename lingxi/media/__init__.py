"""Speech and images: OCR for images (``ocr``), speech recognition for audio (``asr``), speech synthesis (``tts``).

Both load their models on first use; ``Recognizers`` holds one of each for a library."""

from lingxi.media.recognizers import Recognizers

__all__ = ["Recognizers"]
