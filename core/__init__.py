"""streamscore core: pure, typed building blocks shared by every consumer and producer."""
