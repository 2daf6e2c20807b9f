// Pure Kotlin/JVM: no Android classes, so the same code is compiled and tested on any JVM
// (core-test.sh does it with kotlinc + JUnit, without Gradle).
plugins {
    alias(libs.plugins.kotlin.jvm)
    `java-library`
}

java {
    sourceCompatibility = JavaVersion.VERSION_17
    targetCompatibility = JavaVersion.VERSION_17
}

kotlin {
    jvmToolchain(17)
}

dependencies {
    testImplementation(libs.junit)
}

tasks.test {
    // Golden frames and the .tflite fixture are made by ../core-test.sh (needs the Python SDK);
    // without them those tests are skipped here, never silently passed.
    systemProperty("lrdif.golden.dir", file("src/test/resources/golden").path)
    systemProperty("lrdif.repo.root", rootDir.parentFile.path)
    systemProperty("lrdif.fixtures.dir", layout.buildDirectory.dir("fixtures").get().asFile.path)
}
