plugins {
    alias(libs.plugins.android.application)
    alias(libs.plugins.kotlin.android)
}

android {
    namespace = "ai.lrdif.demo"
    compileSdk = 36

    defaultConfig {
        applicationId = "ai.lrdif.demo"
        minSdk = 24
        targetSdk = 36
        versionCode = 1
        versionName = "0.1.0"
    }

    buildTypes {
        release {
            isMinifyEnabled = false
            proguardFiles(getDefaultProguardFile("proguard-android-optimize.txt"), "proguard-rules.pro")
        }
    }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }

    buildFeatures {
        viewBinding = true
    }

    // Models are memory-mapped from the APK: keep them uncompressed.
    androidResources {
        noCompress += "tflite"
    }
}

kotlin {
    jvmToolchain(17)
}

dependencies {
    implementation(project(":core"))

    implementation(libs.androidx.core.ktx)
    implementation(libs.androidx.appcompat)
    implementation(libs.androidx.constraintlayout)
    implementation(libs.androidx.lifecycle.runtime.ktx)
    implementation(libs.material)

    implementation(libs.camera.core)
    implementation(libs.camera.camera2)
    implementation(libs.camera.lifecycle)
    implementation(libs.camera.view)

    implementation(libs.litert)
    implementation(libs.litert.gpu)
    implementation(libs.litert.gpu.api)
}

// The app needs the three models in src/main/assets (README "Models"); fail early with the fix.
val checkModels by tasks.registering {
    val assets = file("src/main/assets")
    doLast {
        val need = listOf("face_detection_short_range.tflite", "face_landmark.tflite")
        val missing = need.filter { !File(assets, it).isFile }
        val emotion = assets.listFiles()?.any { it.name.startsWith("lrdif-") && it.name.endsWith(".tflite") } == true
        if (missing.isNotEmpty() || !emotion) throw GradleException(
            "android_demo/app/src/main/assets lacks " + (missing + if (emotion) emptyList() else listOf("lrdif-*.tflite")) +
            ": run android_demo/copy-models.sh (see android_demo/README.md, section Models)")
    }
}
tasks.named("preBuild") { dependsOn(checkModels) }
