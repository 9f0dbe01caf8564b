package secrets

// AnnotationMetadataDigest and MetadataDigest, for tests of the cache.
const AnnotationMetadataDigest = annotationMetadataDigest

var MetadataDigest = metadataDigest
