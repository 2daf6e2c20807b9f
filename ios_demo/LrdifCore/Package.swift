// swift-tools-version:5.9
// LrdifCore: the platform-independent part of the lrdif iOS demo (Foundation only, so it builds
// and tests on Linux too). The app (../App) adds AVFoundation capture, LiteRT and CoreML.
import PackageDescription

let package = Package(
    name: "LrdifCore",
    platforms: [.iOS(.v15), .macOS(.v12)],
    products: [.library(name: "LrdifCore", targets: ["LrdifCore"])],
    targets: [
        .target(name: "LrdifCore"),
        .testTarget(name: "LrdifCoreTests", dependencies: ["LrdifCore"]),
    ]
)
