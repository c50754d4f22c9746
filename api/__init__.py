"""The HTTP scoring API (`streamscore serve`): the stream's scoring path behind FastAPI.

A thin transport over `core.scoring.BatchScorer`, `core.validation.parse_event` and
`core.follower.ProductionFollower`, so one event gets the same answer over HTTP as on
Kafka. `api.app.create_app` builds the application.
"""
