"""Data for training: manifests, the feature store, the Dataset, the bucketing sampler and augmentation."""

from asr.data.augment import SpecAugment, SpecAugmentConfig
from asr.data.dataset import Batch, Example, SpeechDataset, collate
from asr.data.manifest import ManifestError, Utterance, read_manifest, validate_manifest, write_manifest
from asr.data.sampler import BucketingBatchSampler, padding_waste
from asr.data.store import FeatureStore, extract_features

__all__ = [
    "Batch", "BucketingBatchSampler", "Example", "FeatureStore", "ManifestError", "SpecAugment",
    "SpecAugmentConfig", "SpeechDataset", "Utterance", "collate", "extract_features", "padding_waste",
    "read_manifest", "validate_manifest", "write_manifest",
]
