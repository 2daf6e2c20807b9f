package ai.lrdif.core

/** Every error the core raises on bad input; the message says what is wrong and names the file. */
open class LrdifException(message: String) : RuntimeException(message)

/** The artifact's embedded metadata is missing, malformed or inconsistent (the SDK's MetadataError). */
open class MetadataException(message: String) : LrdifException(message)

/** The artifact is readable but carries no lrdif metadata (not an lrdif export, or exported without it). */
class MetadataMissingException(message: String) : MetadataException(message)

/** The model file itself is cut short or corrupt (truncated download, wrong file, damaged zip). */
class ModelFileException(message: String) : MetadataException(message)

/** A frame that cannot be processed (zero size, wrong buffer length, wrong layout). */
class InvalidFrameException(message: String) : LrdifException(message)

/** Landmarks of the wrong length, non-finite or degenerate. */
class InvalidLandmarksException(message: String) : LrdifException(message)

/** A runtime returned outputs of the wrong size or NaN/inf values, or a call was made out of order. */
class RuntimeOutputException(message: String) : LrdifException(message)

/** The emotion model's inputs/outputs do not match its metadata (the SDK's ModelLoadError). */
class ModelLoadException(message: String) : LrdifException(message)
