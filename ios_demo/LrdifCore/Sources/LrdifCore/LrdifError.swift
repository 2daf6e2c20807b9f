import Foundation

/// Every failure of LrdifCore: a typed case plus a message that names the file or the value.
public enum LrdifError: Error, Equatable, CustomStringConvertible {
    /// The model file is missing, truncated, corrupt or not the expected format.
    case badModelFile(String)
    /// The artifact holds no lrdif metadata, or the record is malformed / fails validation.
    case metadata(String)
    /// A frame, tensor or landmark array with the wrong size or shape.
    case invalidInput(String)
    /// A runtime (LiteRT, CoreML, a replay) failed or returned outputs of the wrong size.
    case runtime(String)

    public var message: String {
        switch self {
        case .badModelFile(let m), .metadata(let m), .invalidInput(let m), .runtime(let m):
            return m
        }
    }

    public var description: String { message }
}

extension LrdifError: LocalizedError {
    public var errorDescription: String? { message }
}
