"""From records to rewards: record validation, media, prompts, batching, the engine, the file writer."""
