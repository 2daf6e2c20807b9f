import Foundation
import XCTest

/// Where the tests find the repo, the shared golden vectors and the fixtures made by
/// ios_demo/core-test.sh (env vars set by the script; repo-relative defaults otherwise).
enum TestPaths {
    static let env = ProcessInfo.processInfo.environment

    /// The repository root: $LRDIF_REPO, else four levels above this file's folder.
    static var repo: URL {
        if let r = env["LRDIF_REPO"], !r.isEmpty { return URL(fileURLWithPath: r) }
        var u = URL(fileURLWithPath: #filePath)
        for _ in 0..<5 { u.deleteLastPathComponent() }   // file, LrdifCoreTests, Tests, LrdifCore, ios_demo
        return u
    }

    /// The golden vectors shared with the Kotlin core (never copied into this package).
    static var golden: URL {
        if let g = env["LRDIF_GOLDEN_DIR"], !g.isEmpty { return URL(fileURLWithPath: g) }
        return repo.appendingPathComponent("android_demo/core/src/test/resources/golden")
    }

    /// Artifacts made at test time by ios_demo/tools/make_fixtures.py. Skipped when LRDIF_FIXTURES
    /// is not set; when it is (core-test.sh), a missing `required` fixture is a failure, other
    /// missing ones (the .mlpackage without coremltools) are skipped.
    static func fixture(_ name: String, required: Bool = false) throws -> URL {
        guard let f = env["LRDIF_FIXTURES"], !f.isEmpty else {
            throw XCTSkip("LRDIF_FIXTURES not set: run ios_demo/core-test.sh (it makes \(name))")
        }
        let u = URL(fileURLWithPath: f).appendingPathComponent(name)
        guard FileManager.default.fileExists(atPath: u.path) else {
            if required { throw LrdifTestError("fixture \(name) missing from \(f): make_fixtures.py should have made it") }
            throw XCTSkip("fixture \(name) was not made (see make_fixtures.py's note in the log)")
        }
        return u
    }

    static func bytes(_ url: URL) throws -> [UInt8] {
        guard let d = FileManager.default.contents(atPath: url.path) else {
            throw LrdifTestError("cannot read \(url.path)")
        }
        return [UInt8](d)
    }
}

struct LrdifTestError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
