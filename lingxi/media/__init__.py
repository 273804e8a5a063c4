"""Speech and images: recognition (asr), synthesis (tts)."""
