"""Speech that fsivr makes itself: numbers and amounts as words (words, with the grammar of each
language in its own module), text rendered to WAV by a TTS engine (tts), and the audio checks and
conversions of uploaded prompts (audio). Below the engine; imports nothing else of ours."""
