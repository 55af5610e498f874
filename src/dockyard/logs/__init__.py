"""The log center: sources on each host (the agent) -> JetStream -> the index and the archive.

`record` is the shared vocabulary: what one line is, where it came from, and how a batch of
lines travels on the stream.
"""
