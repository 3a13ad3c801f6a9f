"""Corpus preparation: one module per corpus, each turning audio and transcripts into manifests."""
