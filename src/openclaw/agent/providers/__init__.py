"""Model providers: an offline built-in, OpenAI-compatible Chat Completions, Anthropic."""
